from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from ..filters import ObservationFilter
from ..forms import ObservationForm
from ..models import Observation
from ..selectors import activity_names, log_of, observations_of
from ..services import observation_create, observation_delete, observation_update
from .common import get_map, map_context


def _activities(process_map) -> list[str]:
    names = activity_names(log_of(process_map, None))
    typed = process_map.observations.values_list("activity", flat=True).distinct()
    return sorted(set(names) | set(typed))


@require_http_methods(["GET", "POST"])
def observation_list(request, slug: str):
    """The map's observations, filtered, with the form to add one."""
    process_map = get_map(request, slug)
    activities = _activities(process_map)
    form = ObservationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        observation_create(process_map=process_map, **form.cleaned_data)
        messages.success(request, "Observation added.")
        return redirect(reverse("discovery:observations", args=[process_map.slug]))
    initial_activity = request.GET.get("activity", "")
    if request.method == "GET" and initial_activity:
        form.initial["activity"] = initial_activity
    filterset = ObservationFilter(
        request.GET, queryset=observations_of(process_map), activities=activities
    )
    return render(
        request,
        "discovery/observation_list.html",
        map_context(
            request,
            process_map,
            filter=filterset,
            observations=filterset.qs,
            form=form,
            activities=activities,
        ),
    )


@require_http_methods(["GET", "POST"])
def observation_edit(request, slug: str, pk: int):
    process_map = get_map(request, slug)
    observation = get_object_or_404(Observation, pk=pk, process_map=process_map)
    form = ObservationForm(request.POST or None, instance=observation, user=request.user)
    if request.method == "POST" and form.is_valid():
        observation.refresh_from_db()
        observation_update(observation=observation, **form.cleaned_data)
        messages.success(request, "Observation saved.")
        return redirect(reverse("discovery:observations", args=[process_map.slug]))
    return render(
        request,
        "discovery/observation_form.html",
        map_context(
            request,
            process_map,
            observation=observation,
            form=form,
            activities=_activities(process_map),
        ),
    )


@require_POST
def observation_remove(request, slug: str, pk: int):
    process_map = get_map(request, slug)
    observation = get_object_or_404(Observation, pk=pk, process_map=process_map)
    observation_delete(observation=observation)
    messages.success(request, "Observation deleted.")
    return redirect(reverse("discovery:observations", args=[process_map.slug]))
