"""From a request's credential to a :class:`VerifiedToken`."""
