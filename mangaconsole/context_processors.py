from mangaconsole.roles import Role, user_roles


def console(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_roles": []}
    return {"console_roles": [(r, Role.LABELS[r]) for r in user_roles(user)]}
