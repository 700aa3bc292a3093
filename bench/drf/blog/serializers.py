from django.contrib.auth.models import User
from rest_framework import serializers

from .models import BlogPost


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["username", "first_name"]


class BlogPostSerializer(serializers.ModelSerializer):
    """The fields a client of the blog plugin sees: the post, its author's username and
    first name, the computed content_size, and the post's resource_uri."""

    author = AuthorSerializer(read_only=True)
    content_size = serializers.SerializerMethodField()
    resource_uri = serializers.HyperlinkedIdentityField(
        view_name="post-detail", lookup_field="slug"
    )

    class Meta:
        model = BlogPost
        fields = ["slug", "title", "content", "author", "content_size", "resource_uri"]

    def get_content_size(self, post):
        return len(post.content)
