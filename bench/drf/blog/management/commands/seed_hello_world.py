from pathlib import Path

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from blog.models import BlogPost


class Command(BaseCommand):
    help = "Creates the post the benchmark reads, by an author, with the content in FILE."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **options):
        content = Path(options["file"]).read_text(encoding="utf-8").rstrip()
        author, _ = User.objects.get_or_create(
            username="jane", defaults={"first_name": "Jane"}
        )
        BlogPost.objects.update_or_create(
            slug="hello-world",
            defaults={"title": "Hello World", "content": content, "author": author},
        )
