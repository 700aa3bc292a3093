from rest_framework.generics import RetrieveAPIView

from .models import BlogPost
from .serializers import BlogPostSerializer


class PostDetail(RetrieveAPIView):
    """GET /posts/<slug>: one post with its author, read in one query."""

    queryset = BlogPost.objects.select_related("author")
    serializer_class = BlogPostSerializer
    lookup_field = "slug"
