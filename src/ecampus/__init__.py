"""ecampus: a self-paced e-learning course engine."""

__version__ = "0.1.0"
