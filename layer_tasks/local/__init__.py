"""The local sandbox: a moto server on 127.0.0.1."""
