"""gunicorn's entry point (`wsgi:app`)."""
from predictor import app  # noqa: F401
