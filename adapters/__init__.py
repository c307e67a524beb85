"""Everything that talks to the outside world: the asurso.ru client, the emulator, e-mail."""
