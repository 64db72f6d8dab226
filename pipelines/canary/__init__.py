"""The canary, shared by the local twin and Vertex AI: policy, controller, endpoint protocol.

Nothing here knows which endpoint it drives: the local endpoint
(``pipelines.serving``) and the Vertex AI one (``pipelines.cloud``) implement
:class:`~pipelines.canary.endpoint.EndpointOps` and a rollout store.
"""
