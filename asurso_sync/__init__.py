"""asurso-sync: mirror the АСУ РСО class journal, check it against the Положение, send remark lists."""

__version__ = "0.1.0"
