from ninja import NinjaAPI

api = NinjaAPI(title="newsdesk API", version="1")
