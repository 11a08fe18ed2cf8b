from ninja import NinjaAPI

api = NinjaAPI(title="Handoff intake API", version="1", urls_namespace="api")
