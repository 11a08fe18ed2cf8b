app_name = "escalations"
urlpatterns = []
