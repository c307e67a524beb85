"""A faithful local emulator of asurso.ru for tests, the demo and benchmarks."""
