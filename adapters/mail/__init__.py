"""E-mail delivery backends."""
