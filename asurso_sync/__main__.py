from asurso_sync.cli import main

main()
