app_name = "repository"
urlpatterns = []
