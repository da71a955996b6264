from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("qui-fait-quoi/", views.who_does_what_view, name="who-does-what"),
    path("contacts/", views.contacts, name="contacts"),
]
