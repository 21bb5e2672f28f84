"""Mail: a persistent outbox, worked by the server, retried until the SMTP server accepts."""
