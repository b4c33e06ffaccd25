"""OpenStack, shared by the providers that run it (Selectel, VK Cloud): Keystone v3 password auth
with the token's service catalog, paged Nova/Cinder/Neutron/Octavia/Glance listings normalized to
``ResourceRecord``s, instance actions as operations, and a reusable simulator part."""
