from django.conf import settings
from django.db import models


class BlogPost(models.Model):
    """django-piston's BlogPost: what the blog plugin stores."""

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    content = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
