"""Кабинет завуча: the local web application over the cache (``asurso-sync web``)."""
