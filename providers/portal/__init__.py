"""Portal pages of the providers app: connections, resources and costs."""
