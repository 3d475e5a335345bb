"""Single sign-on (roles/immich_config): the immich_oidc_* inventory variables become Immich's oauth settings,
the user's immich_system_config still wins, and the printed redirect URIs include the mobile app's."""

from rolerender import RoleVars

ISSUER = "https://auth.example.org"


def settings(**extra):
    return RoleVars("immich_config", extra=extra).value("__immich_config_settings")


def test_no_issuer_no_oauth_settings():
    assert "oauth" not in settings()


def test_issuer_turns_on_oauth_with_the_inventory_values():
    oauth = settings(immich_oidc_issuer=ISSUER, immich_oidc_client_id="immich", immich_oidc_client_secret="s3cret")[
        "oauth"
    ]
    assert oauth["enabled"] is True
    assert oauth["issuerUrl"] == ISSUER
    assert (oauth["clientId"], oauth["clientSecret"]) == ("immich", "s3cret")
    assert oauth["scope"] == "openid email profile"
    assert oauth["autoRegister"] is True
    assert oauth["tokenEndpointAuthMethod"] == "client_secret_post"
    assert oauth["mobileOverrideEnabled"] is False
    assert oauth["allowInsecureRequests"] is False


def test_mobile_override_and_user_config_win():
    oauth = settings(
        immich_oidc_issuer=ISSUER,
        immich_config_oidc_mobile_redirect_uri="https://immich.example.org/api/oauth/mobile-redirect",
        immich_system_config={"oauth": {"buttonText": "Family login"}},
    )["oauth"]
    assert oauth["mobileOverrideEnabled"] is True
    assert oauth["mobileRedirectUri"] == "https://immich.example.org/api/oauth/mobile-redirect"
    assert oauth["buttonText"] == "Family login"


def test_redirect_uris_behind_the_https_proxy():
    uris = RoleVars(
        "immich_config",
        extra={"immich_oidc_issuer": ISSUER, "edge_proxy_endpoint": {"urls": ["https://immich.lan"]}},
    ).value("__immich_config_oidc_redirect_uris")
    assert uris == ["https://immich.lan/auth/login", "https://immich.lan/user-settings", "app.immich:///oauth-callback"]


def test_redirect_uris_without_proxy_use_port_2283():
    uris = RoleVars("immich_config", extra={"immich_oidc_issuer": ISSUER, "mesh_address": "192.168.1.10"}).value(
        "__immich_config_oidc_redirect_uris"
    )
    assert uris[0] == "http://192.168.1.10:2283/auth/login"
