"""The Dramatiq side of koppel: the broker, middleware, actors and the worker processes."""
