from __future__ import annotations

from django.db import models


class Project(models.Model):
    tenant = models.CharField(max_length=100)


class Document(models.Model):
    title = models.CharField(max_length=100)
    owner = models.CharField(max_length=200, blank=True)
    owner_issuer = models.CharField(max_length=500, blank=True)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE)
