"""fake_immich: a stateful test double of the Immich v3.1.0 server API (see README.md)."""

# the admin the tests sign up (a test value, not a secret)
EXAMPLE_ADMIN = {"email": "admin@example.com", "name": "Admin", "password": "correct horse battery staple"}
