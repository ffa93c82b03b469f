"""A model whose API is guarded by Django model permissions granted through token scopes."""

from __future__ import annotations

from django.db import models


class Document(models.Model):
    """A small text document."""

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    owner = models.CharField(max_length=200, help_text="The workload that created it.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title
