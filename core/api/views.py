from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import serializers as s
from core.api.base import TenantScopedViewSet
from core.api.pagination import NewestFirstCursorPagination
from core.filtersets import (
    ApiTokenFilterSet,
    AuditEventFilterSet,
    MembershipFilterSet,
    TenantFilterSet,
)
from core.models import ApiToken, AuditEvent, Invitation, Membership, Tenant
from core.portal.emails import send_invitation
from core.selectors import me_get
from core.services.memberships import (
    member_invite,
    membership_delete,
    membership_scope_set,
    membership_update,
)
from core.services.tenants import tenant_create, tenant_update
from core.services.tokens import api_token_create, api_token_revoke


class TenantViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantScopedViewSet,
):
    """Tenants you can see. Operators create sub-tenants and edit settings."""

    queryset = Tenant.objects.select_related("parent")
    serializer_class = s.TenantSerializer
    filterset_class = TenantFilterSet
    ordering_fields = ["name", "slug", "created_at"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = tenant_create(actor=self.request.user, **data)

    def perform_update(self, serializer):
        serializer.instance = tenant_update(
            actor=self.request.user, tenant=serializer.instance, **serializer.validated_data
        )


class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """Members of tenants and their roles. Adding a member by email invites them."""

    queryset = Membership.objects.select_related("tenant", "user")
    serializer_class = s.MembershipSerializer
    filterset_class = MembershipFilterSet
    ordering_fields = ["created_at", "role"]

    @extend_schema(
        responses={
            201: s.MembershipSerializer,
            202: OpenApiResponse(
                s.InvitationSerializer,
                description="The email belongs to an existing account: it is invited and gets "
                "access once its owner accepts in the portal.",
            ),
        }
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        if isinstance(serializer.instance, Invitation):
            body = s.InvitationSerializer(
                serializer.instance, context=self.get_serializer_context()
            )
            return Response(body.data, status=status.HTTP_202_ACCEPTED)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = member_invite(
            actor=self.request.user,
            tenant=data["tenant"],
            email=data["email"],
            role=data["role"],
            send_email=send_invitation,
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        with transaction.atomic():
            if "role" in data or "dimension_scope" not in data:
                serializer.instance = membership_update(
                    actor=self.request.user,
                    membership=serializer.instance,
                    role=data.get("role", serializer.instance.role),
                )
            if "dimension_scope" in data:
                serializer.instance = membership_scope_set(
                    actor=self.request.user,
                    membership=serializer.instance,
                    dimension_scope=data["dimension_scope"],
                )

    def perform_destroy(self, instance):
        membership_delete(actor=self.request.user, membership=instance)


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The audit log of tenants where you may view it (append-only, hash-chained)."""

    queryset = AuditEvent.objects.all()
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilterSet
    pagination_class = NewestFirstCursorPagination
    ordering_fields = None  # cursor pagination fixes the order: newest first


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """API tokens. The secret is returned once, on creation; DELETE or `revoke` revokes."""

    queryset = ApiToken.objects.select_related("tenant", "user")
    serializer_class = s.ApiTokenSerializer
    filterset_class = ApiTokenFilterSet
    action_map = {"revoke": "delete"}

    @extend_schema(responses={201: s.IssuedTokenSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            issued = api_token_create(
                actor=request.user,
                tenant=data["tenant"],
                name=data["name"],
                scope=data.get("scope", ApiToken.Scope.READ),
                expires_at=data.get("expires_at"),
            )
        output = s.IssuedTokenSerializer(issued.token, context=self.get_serializer_context()).data
        output["token"] = issued.raw
        return Response(output, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        api_token_revoke(actor=self.request.user, token=instance)

    @extend_schema(request=None, responses={200: s.ApiTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = api_token_revoke(actor=request.user, token=self.get_object())
        return Response(self.get_serializer(token).data)


class MeView(APIView):
    """Who you are, which token you use, and your roles per tenant."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.MeSerializer)
    def get(self, request):
        return Response(s.MeSerializer(me_get(user=request.user)).data)
