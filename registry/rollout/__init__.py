"""Changing what serves: the deployment pipeline, deployment targets (SageMaker, Bedrock), the canary's
monitoring, the production guard, rollback and its follow-up, and their pages and tasks.

This is the top layer of the registry (README "Architecture"): it may import evaluation, chat,
experiments, prompts and guardrails; nothing below it imports it. The registry core beside it
(``registry.models``, ``registry.selectors``, ``registry.services``) imports no other project app.
"""
