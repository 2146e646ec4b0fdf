"""Who did it: the one label every service writes into its ``created_by``/``requested_by`` fields."""


def actor_label(actor) -> str:
    """A username for a user, or the string itself for a ``system:<component>`` actor."""
    return actor if isinstance(actor, str) else actor.get_username()
