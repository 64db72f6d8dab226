"""The stack config (``Pulumi.<stack>.yaml``) and the names both infrastructure and runtime use.

``infra`` (the Pulumi program) and the runtime (runner, pipelines, CLI) read the
same types from here, so dependencies run one way: ``infra`` → ``pipelines``.
"""
