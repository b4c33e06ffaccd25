"""Related fields are scoped however they were built: a Manager, a plain QuerySet of a tenant-owned
model, many=True, slug or hyperlinked lookups, inside nested serializers and list fields."""

from rest_framework import serializers

from core.api.base import scope_queryset, scope_serializer_fields
from core.models import Membership, Tenant


class _Inner(serializers.Serializer):
    # _base_manager is a plain Manager: its querysets are not TenantScopedQuerySets.
    membership = serializers.PrimaryKeyRelatedField(queryset=Membership._base_manager.all())


class _Outer(serializers.Serializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", queryset=Tenant._base_manager)
    tenants = serializers.PrimaryKeyRelatedField(many=True, queryset=Tenant.objects)
    memberships = serializers.ListField(
        child=serializers.PrimaryKeyRelatedField(queryset=Membership._base_manager.all())
    )
    inner = _Inner()
    inners = _Inner(many=True)


def test_plain_querysets_and_managers_of_tenant_owned_models_are_scoped(world):
    assert set(scope_queryset(Tenant._base_manager, world.owner_b)) == {world.b}
    foreign = Membership.objects.get(user=world.owner_a)
    scoped = scope_queryset(Membership._base_manager.all(), world.owner_b)
    assert foreign not in scoped
    assert Membership.objects.get(user=world.owner_b) in scoped


def test_every_kind_of_related_field_is_scoped(world):
    serializer = _Outer()
    scope_serializer_fields(serializer, world.owner_b)
    fields = serializer.fields
    querysets = [
        fields["tenant"].get_queryset(),
        fields["tenants"].child_relation.get_queryset(),
        fields["memberships"].child.get_queryset(),
        fields["inner"].fields["membership"].get_queryset(),
        fields["inners"].child.fields["membership"].get_queryset(),
    ]
    for queryset in querysets:
        assert queryset.exists(), queryset
        assert all(getattr(row, "tenant_id", None) == world.b.pk for row in queryset), queryset


def test_foreign_slug_is_refused_like_an_unknown_one(world):
    def errors(slug):
        serializer = _Outer(data={"tenant": slug})
        scope_serializer_fields(serializer, world.owner_b)
        serializer.is_valid()
        return str(serializer.errors["tenant"]).replace(slug, "<slug>")

    assert errors(world.a.slug) == errors("no-such-tenant")
