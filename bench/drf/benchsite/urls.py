from django.urls import path

from blog.views import PostDetail

urlpatterns = [
    path("posts/<slug:slug>", PostDetail.as_view(), name="post-detail"),
]
