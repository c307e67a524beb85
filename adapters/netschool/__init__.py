"""Client for asurso.ru and other NetSchool («Сетевой город. Образование») servers. Read-only."""
