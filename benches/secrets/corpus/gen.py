#!/usr/bin/env python3
"""Generate Argus's secret-detection measurement corpora (deterministic, stdlib only).

    python3 benches/secrets/corpus/gen.py [--out DIR]

Writes, next to this file (or under DIR):

  docs-formats/   provider token formats as the providers document them, 2 examples per kind
  config-forms/   generic credential forms (private keys, JWTs, connection strings, passwords...)
  placeholders/   documentation placeholders and test values that must produce NO finding

each laid out `<corpus>/<kind>/<n>.<ext>` with `<corpus>/expected.tsv`
(`relative/path<TAB>secret`, one line per file; empty for placeholders). A secret that spans
lines (PEM, OpenSSH, PPK, PGP blocks) is written on one line with each newline as the two
characters `\\n` (no secret in these corpora contains a backslash, so the escape is unambiguous).

The token formats were written from the providers' documentation (URL and format per entry in
KINDS below), NOT from any scanner's rule files, so that the corpora measure the rules rather than
mirror them.
"""

import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import sys
import uuid
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crypto  # noqa: E402

SEED = 20261207

U = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
L = "abcdefghijklmnopqrstuvwxyz"
D = "0123456789"
AN = U + L + D
LN = L + D
UN = U + D
H = "0123456789abcdef"
HU = "0123456789ABCDEF"
B64 = AN + "+/"
URL = AN + "_-"
B32 = U + "234567"

# Substrings a generated random part must not contain: they mark placeholders/test values, and a
# real token only rarely contains them.
BAD = ("example", "test", "xxx", "fake", "dummy", "sample", "1234", "abcd", "0123", "redact", "changeme")


def clean(s):
    low = s.lower()
    if any(b in low for b in BAD):
        return False
    return not any(s[i] == s[i + 1] == s[i + 2] == s[i + 3] for i in range(len(s) - 3))


def rand(rng, alphabet, n):
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        if clean(s):
            return s


def F(*parts):
    """Token = concatenation of literal strings and (alphabet, length) random parts; a length may
    be a (min, max) pair."""

    def gen(rng):
        out = []
        for p in parts:
            if isinstance(p, str):
                out.append(p)
            else:
                alpha, n = p
                if isinstance(n, tuple):
                    n = rng.randint(*n)
                out.append(rand(rng, alpha, n))
        return "".join(out)

    return gen


def base62(n, width):
    digits = D + U + L
    out = ""
    while n:
        out = digits[n % 62] + out
        n //= 62
    return out.rjust(width, "0")


def crc_token(prefix):
    """GitHub / npm format: prefix + 30 random base62 + 6-char base62 CRC32 of those 30."""

    def gen(rng):
        r = rand(rng, AN, 30)
        return prefix + r + base62(zlib.crc32(r.encode()), 6)

    return gen


def uuid4(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def b64(b):
    return base64.b64encode(b).decode()


def randbytes_clean(rng, n, enc):
    while True:
        s = enc(rng.randbytes(n))
        if clean(s):
            return s


# ------------------------------------------------------------------ special token generators


def g_aws_secret(rng):
    return rand(rng, B64, 40)


def g_aws_session(rng):
    return "IQoJb3JpZ2luX2Vj" + randbytes_clean(rng, 300, b64)


def g_bedrock(rng):
    return "ABSK" + b64(b"BedrockAPIKey-" + rand(rng, LN, 4).encode() + b"-at-" + rand(rng, D, 12).encode() + b":" + rand(rng, B64, 40).encode())


def g_azure_storage(rng):
    return randbytes_clean(rng, 64, b64)


def g_azure_sb(rng):
    return randbytes_clean(rng, 32, b64)


def g_azure_sas_sig(rng):
    return randbytes_clean(rng, 32, b64).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def g_azure_client_secret(rng):
    return rand(rng, AN, 3) + rng.choice(D) + "Q~" + rand(rng, AN + "_.~-", 34)


def g_discord_bot(rng):
    uid = str(rng.randrange(10**17, 10**19))
    return b64url(uid.encode()) + "." + rand(rng, URL, 6) + "." + rand(rng, URL, 38)


def g_telegram(rng):
    return str(rng.randrange(10**8, 10**10)) + ":AA" + rand(rng, URL, 33)


def g_slack_bot(rng):
    return f"xoxb-{rng.randrange(10**10, 10**13)}-{rng.randrange(10**10, 10**13)}-" + rand(rng, AN, 24)


def g_slack_user(rng):
    return f"xoxp-{rng.randrange(10**10, 10**13)}-{rng.randrange(10**10, 10**13)}-{rng.randrange(10**10, 10**13)}-" + rand(rng, H, 32)


def g_slack_app(rng):
    return "xapp-1-A" + rand(rng, UN, 10) + "-" + str(rng.randrange(10**12, 10**13)) + "-" + rand(rng, H, 64)


def g_slack_config(rng):
    return "xoxe.xoxp-1-" + rand(rng, AN, 148)


def g_slack_webhook(rng):
    return "https://hooks.slack.com/services/T" + rand(rng, UN, 10) + "/B" + rand(rng, UN, 10) + "/" + rand(rng, AN, 24)


def g_slack_workflow(rng):
    return "https://hooks.slack.com/triggers/T" + rand(rng, UN, 10) + "/" + str(rng.randrange(10**12, 10**13)) + "/" + rand(rng, H, 32)


def g_discord_webhook(rng):
    return "https://discord.com/api/webhooks/" + str(rng.randrange(10**17, 10**19)) + "/" + rand(rng, URL, 68)


def g_teams_webhook(rng):
    t = rand(rng, L, 8)
    return (
        f"https://{t}.webhook.office.com/webhookb2/{uuid4(rng)}@{uuid4(rng)}/IncomingWebhook/"
        + rand(rng, H, 32)
        + "/"
        + uuid4(rng)
        + "/V2"
        + rand(rng, URL, 40)
    )


def g_mailchimp(rng):
    return rand(rng, H, 32) + "-us" + str(rng.randrange(1, 22))


def g_sentry_org(rng):
    payload = {
        "iat": rng.randrange(1_700_000_000, 1_760_000_000) + 0.5,
        "url": "https://sentry.io",
        "region_url": "https://us.sentry.io",
        "org": rand(rng, L, 7),
    }
    return "sntrys_" + b64(json.dumps(payload, separators=(",", ":")).encode()).rstrip("=") + "_" + rand(rng, B64, 43)


def g_grafana_cloud(rng):
    payload = {"o": str(rng.randrange(100000, 999999)), "n": "stack-" + str(rng.randrange(100000, 999999)) + "-deploy", "k": rand(rng, AN, 32), "m": {"r": "prod-eu-west-2"}}
    return "glc_" + b64(json.dumps(payload, separators=(",", ":")).encode())


def g_grafana_legacy(rng):
    payload = {"k": rand(rng, AN, 32), "n": "ci-" + rand(rng, L, 5), "id": rng.randrange(1, 500)}
    return b64(json.dumps(payload, separators=(",", ":")).encode())


def g_intercom(rng):
    return b64(f"tok:{uuid4(rng)}:1:0".encode())


def g_1password_sa(rng):
    payload = {
        "signInAddress": "my.1password.com",
        "userAuth": {"method": "SRPg-4096", "alg": "PBES2g-HS256", "iterations": 650000, "salt": rand(rng, URL, 22)},
        "email": rand(rng, LN, 13) + "@1passwordserviceaccounts.com",
        "srpX": rand(rng, H, 64),
        "muk": {"alg": "A256GCM", "ext": True, "k": rand(rng, URL, 43), "key_ops": ["encrypt", "decrypt"], "kty": "oct", "kid": "mp"},
        "secretKey": "A3-" + rand(rng, UN, 6) + "-" + rand(rng, UN, 11) + "-" + rand(rng, UN, 5) + "-" + rand(rng, UN, 5) + "-" + rand(rng, UN, 5),
        "throttleSecret": {"seed": rand(rng, H, 64), "uuid": rand(rng, UN, 26)},
        "deviceUuid": rand(rng, L + D, 26),
    }
    return "ops_" + b64url(json.dumps(payload, separators=(",", ":")).encode())


def g_1password_secret_key(rng):
    return "A3-" + "-".join(rand(rng, UN, n) for n in (6, 6, 5, 5, 5, 5))


def g_age(rng):
    return crypto.bech32("age-secret-key-", rng.randbytes(32)).upper()


def g_mapbox(rng):
    payload = {"u": rand(rng, L, 8), "a": rand(rng, LN, 25)}
    return "sk." + b64url(json.dumps(payload, separators=(",", ":")).encode()) + "." + rand(rng, URL, 22)


def g_braintree(rng):
    return "access_token$production$" + rand(rng, LN, 16) + "$" + rand(rng, H, 32)


def g_x_bearer(rng):
    return "AAAAAAAAAAAAAAAAAAAAA" + rand(rng, AN, 19) + "%3D" + rand(rng, AN, 50)


def g_asana(rng):
    return f"2/{rng.randrange(10**15, 10**16)}/{rng.randrange(10**15, 10**16)}:" + rand(rng, H, 32)


def g_bitwarden(rng):
    return "0." + uuid4(rng) + "." + rand(rng, AN, 30) + ":" + randbytes_clean(rng, 16, b64)


def g_fcm(rng):
    return "AAAA" + rand(rng, URL, 7) + ":APA91b" + rand(rng, URL, 134)


def g_atlassian(rng):
    return "ATATT3xFfGF0" + rand(rng, URL, 170) + "=" + rand(rng, HU, 8)


def g_bitbucket_rat(rng):
    return "ATCTT3xFfGN0" + rand(rng, URL, 170) + "=" + rand(rng, HU, 8)


def g_stripe(prefix):
    def gen(rng):
        return prefix + rand(rng, AN, rng.choice((24, 99)))

    return gen


def g_salesforce(rng):
    return "00D" + rand(rng, AN, 12) + "!" + rand(rng, AN + ".", 96)


def g_meta(rng):
    return "EAAG" + rand(rng, AN, 180)


def g_infisical(rng):
    return "st." + rand(rng, H, 24) + "." + rand(rng, H, 32) + "." + rand(rng, H, 32)


def g_pypi(host_macaroon):
    def gen(rng):
        return "pypi-" + host_macaroon + randbytes_clean(rng, 120, b64url)

    return gen


def g_adyen(rng):
    return "AQE" + rand(rng, AN, 5) + "+" + rand(rng, AN, 40) + "=-" + rand(rng, B64, 44) + "=-" + rand(rng, AN + "#$;:(){}", 16)


# ------------------------------------------------------------------ the kinds
# K(kind, provider, variable, host, documentation URL, documented format, generator, curl header)
# `curl` is the header template used in the curl context ({v} = the token).

KINDS = []


def K(kind, provider, var, host, url, fmt, gen, curl="Authorization: Bearer {v}"):
    KINDS.append(dict(kind=kind, provider=provider, var=var, host=host, url=url, fmt=fmt, gen=gen, curl=curl))


AWS_IDS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids"
# --- cloud
K("aws-access-key-id", "AWS", "AWS_ACCESS_KEY_ID", "sts.amazonaws.com", AWS_IDS, "AKIA + 16 upper-case base32 [A-Z2-7] (long-term IAM user key id)", F("AKIA", (B32, 16)), "X-Amz-Access-Key: {v}")
K("aws-temporary-access-key-id", "AWS", "AWS_ACCESS_KEY_ID", "sts.amazonaws.com", AWS_IDS, "ASIA + 16 upper-case base32 [A-Z2-7] (STS temporary key id)", F("ASIA", (B32, 16)), "X-Amz-Access-Key: {v}")
K("aws-secret-access-key", "AWS", "AWS_SECRET_ACCESS_KEY", "s3.amazonaws.com", "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html", "40 base64 characters [A-Za-z0-9+/], no prefix: named by context", g_aws_secret, "X-Aws-Secret-Access-Key: {v}")
K("aws-session-token", "AWS", "AWS_SESSION_TOKEN", "sts.amazonaws.com", "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_use-resources.html", "long base64 blob, observed to begin IQoJb3JpZ2luX2Vj", g_aws_session, "X-Amz-Security-Token: {v}")
K("aws-bedrock-api-key", "AWS Bedrock", "AWS_BEARER_TOKEN_BEDROCK", "bedrock-runtime.us-east-1.amazonaws.com", "https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html", "ABSK + base64 of 'BedrockAPIKey-...:secret' (long-term key)", g_bedrock)
K("gcp-api-key", "Google Cloud", "GOOGLE_API_KEY", "maps.googleapis.com", "https://cloud.google.com/docs/authentication/api-keys", "AIza + 35 [A-Za-z0-9_-] (39 chars)", F("AIza", (URL, 35)), "X-Goog-Api-Key: {v}")
K("gcp-oauth-client-secret", "Google OAuth", "GOOGLE_CLIENT_SECRET", "oauth2.googleapis.com", "https://developers.google.com/identity/protocols/oauth2", "GOCSPX- + 28 [A-Za-z0-9_-]", F("GOCSPX-", (URL, 28)))
K("gcp-oauth-access-token", "Google OAuth", "GOOGLE_ACCESS_TOKEN", "www.googleapis.com", "https://developers.google.com/identity/protocols/oauth2", "ya29. + opaque [A-Za-z0-9_-] (~150+ chars)", F("ya29.", (URL, (150, 200))))
K("gcp-oauth-refresh-token", "Google OAuth", "GOOGLE_REFRESH_TOKEN", "oauth2.googleapis.com", "https://developers.google.com/identity/protocols/oauth2", "1// + opaque [A-Za-z0-9_-] (~100 chars)", F("1//0", (URL, 99)))
K("azure-storage-account-key", "Azure Storage", "AZURE_STORAGE_ACCOUNT_KEY", "acct.blob.core.windows.net", "https://learn.microsoft.com/en-us/azure/storage/common/storage-account-keys-manage", "88 base64 chars (64 bytes, ends ==), in AccountKey= of the connection string", g_azure_storage, "x-ms-account-key: {v}")
K("azure-cosmosdb-key", "Azure Cosmos DB", "COSMOS_DB_PRIMARY_KEY", "acct.documents.azure.com", "https://learn.microsoft.com/en-us/azure/cosmos-db/secure-access-to-data", "88 base64 chars (64 bytes, ends ==), named by context", g_azure_storage, "x-ms-cosmos-key: {v}")
K("azure-service-bus-sas-key", "Azure Service Bus", "SERVICEBUS_SHARED_ACCESS_KEY", "ns.servicebus.windows.net", "https://learn.microsoft.com/en-us/azure/service-bus-messaging/service-bus-sas", "44 base64 chars (32 bytes, ends =), SharedAccessKey= in the connection string", g_azure_sb, "SharedAccessKey: {v}")
K("azure-sas-signature", "Azure Storage SAS", "AZURE_SAS_SIG", "acct.blob.core.windows.net", "https://learn.microsoft.com/en-us/rest/api/storageservices/create-service-sas", "sig= query parameter: URL-encoded base64 HMAC-SHA256 (32 bytes)", g_azure_sas_sig, "x-ms-sas-sig: {v}")
K("azure-ad-client-secret", "Azure AD / Entra ID", "AZURE_CLIENT_SECRET", "login.microsoftonline.com", "https://learn.microsoft.com/en-us/entra/identity-platform/howto-create-service-principal-portal", "40 chars: 3 [A-Za-z0-9] + digit + 'Q~' + 34 [A-Za-z0-9_.~-] (observable format)", g_azure_client_secret)
K("azure-openai-key", "Azure OpenAI", "AZURE_OPENAI_API_KEY", "myres.openai.azure.com", "https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#authentication", "32 lower-case hex, header api-key, named by context", F((H, 32)), "api-key: {v}")
K("azure-apim-subscription-key", "Azure API Management", "APIM_SUBSCRIPTION_KEY", "contoso.azure-api.net", "https://learn.microsoft.com/en-us/azure/api-management/api-management-subscriptions", "32 lower-case hex, Ocp-Apim-Subscription-Key header", F((H, 32)), "Ocp-Apim-Subscription-Key: {v}")
K("azure-devops-pat", "Azure DevOps", "AZURE_DEVOPS_PAT", "dev.azure.com", "https://learn.microsoft.com/en-us/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate", "84 chars [A-Za-z0-9] with 'AZDO' signature at offset 76", F((AN, 76), "AZDO", (AN, 4)), "Authorization: Basic {v}")
K("azure-devops-pat-legacy", "Azure DevOps", "AZURE_DEVOPS_EXT_PAT", "dev.azure.com", "https://learn.microsoft.com/en-us/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate", "52 lower-case base32 [a-z2-7] (pre-2024 format), named by context", F((L + "234567", 52)), "Authorization: Basic {v}")
K("alibaba-access-key-id", "Alibaba Cloud", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ecs.aliyuncs.com", "https://www.alibabacloud.com/help/en/ram/user-guide/create-an-accesskey-pair", "LTAI + 20 [A-Za-z0-9]", F("LTAI", (AN, 20)), "x-acs-accesskey-id: {v}")
K("alibaba-access-key-secret", "Alibaba Cloud", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ecs.aliyuncs.com", "https://www.alibabacloud.com/help/en/ram/user-guide/create-an-accesskey-pair", "30 [A-Za-z0-9], named by context", F((AN, 30)), "x-acs-accesskey-secret: {v}")
K("oracle-oci-auth-token", "Oracle Cloud (OCI)", "OCI_AUTH_TOKEN", "objectstorage.us-ashburn-1.oraclecloud.com", "https://docs.oracle.com/en-us/iaas/Content/Registry/Tasks/registrygettingauthtoken.htm", "20 chars [A-Za-z0-9] and punctuation ()<>:;.+#_-, named by context", F((AN + "():;.+#_-", 20)))
K("oracle-oci-customer-secret-key", "Oracle Cloud (OCI)", "OCI_CUSTOMER_SECRET_KEY", "objectstorage.us-ashburn-1.oraclecloud.com", "https://docs.oracle.com/en-us/iaas/Content/Identity/Tasks/managingcredentials.htm#create-secret-key", "44 base64 chars (S3-compatible secret), named by context", F((B64, 43), "="))
K("ibm-cloud-api-key", "IBM Cloud", "IBMCLOUD_API_KEY", "iam.cloud.ibm.com", "https://cloud.ibm.com/docs/account?topic=account-userapikey", "44 [A-Za-z0-9_-], named by context", F((URL, 44)), "apikey: {v}")
K("digitalocean-pat", "DigitalOcean", "DIGITALOCEAN_TOKEN", "api.digitalocean.com", "https://docs.digitalocean.com/reference/api/create-personal-access-token/", "dop_v1_ + 64 lower-case hex", F("dop_v1_", (H, 64)))
K("digitalocean-oauth-token", "DigitalOcean", "DIGITALOCEAN_ACCESS_TOKEN", "api.digitalocean.com", "https://docs.digitalocean.com/reference/api/oauth-api/", "doo_v1_ + 64 lower-case hex", F("doo_v1_", (H, 64)))
K("digitalocean-refresh-token", "DigitalOcean", "DIGITALOCEAN_REFRESH_TOKEN", "cloud.digitalocean.com", "https://docs.digitalocean.com/reference/api/oauth-api/", "dor_v1_ + 64 lower-case hex", F("dor_v1_", (H, 64)))
K("linode-pat", "Linode (Akamai)", "LINODE_TOKEN", "api.linode.com", "https://techdocs.akamai.com/linode-api/reference/get-started#personal-access-tokens", "64 lower-case hex, named by context", F((H, 64)))
K("scaleway-access-key", "Scaleway", "SCW_ACCESS_KEY", "api.scaleway.com", "https://www.scaleway.com/en/docs/iam/concepts/#api-key", "SCW + 17 [A-Z0-9]", F("SCW", (UN, 17)), "X-Auth-Token-Id: {v}")
K("scaleway-secret-key", "Scaleway", "SCW_SECRET_KEY", "api.scaleway.com", "https://www.scaleway.com/en/docs/iam/concepts/#api-key", "UUID v4, named by context", uuid4, "X-Auth-Token: {v}")
K("hetzner-cloud-token", "Hetzner Cloud", "HCLOUD_TOKEN", "api.hetzner.cloud", "https://docs.hetzner.cloud/#authentication", "64 [A-Za-z0-9], named by context", F((AN, 64)))
K("cloudflare-api-token", "Cloudflare", "CLOUDFLARE_API_TOKEN", "api.cloudflare.com", "https://developers.cloudflare.com/fundamentals/api/get-started/create-token/", "40 [A-Za-z0-9_-], named by context", F((URL, 40)))
K("cloudflare-global-api-key", "Cloudflare", "CLOUDFLARE_API_KEY", "api.cloudflare.com", "https://developers.cloudflare.com/fundamentals/api/get-started/keys/", "37 lower-case hex, X-Auth-Key header, named by context", F((H, 37)), "X-Auth-Key: {v}")
K("cloudflare-origin-ca-key", "Cloudflare", "CF_ORIGIN_CA_KEY", "api.cloudflare.com", "https://developers.cloudflare.com/fundamentals/api/get-started/ca-keys/", "v1.0- + 24 hex + - + 146 hex", F("v1.0-", (H, 24), "-", (H, 146)), "X-Auth-User-Service-Key: {v}")
K("vultr-api-key", "Vultr", "VULTR_API_KEY", "api.vultr.com", "https://www.vultr.com/api/#section/Authentication", "36 [A-Z0-9], named by context", F((UN, 36)))
K("fastly-api-token", "Fastly", "FASTLY_API_TOKEN", "api.fastly.com", "https://www.fastly.com/documentation/reference/api/auth-tokens/", "32 [A-Za-z0-9_-], Fastly-Key header, named by context", F((URL, 32)), "Fastly-Key: {v}")
K("tencent-cloud-secret-id", "Tencent Cloud", "TENCENTCLOUD_SECRET_ID", "cvm.tencentcloudapi.com", "https://www.tencentcloud.com/document/product/598/32675", "AKID + 32 [A-Za-z0-9]", F("AKID", (AN, 32)), "X-TC-SecretId: {v}")
K("yandex-cloud-api-key", "Yandex Cloud", "YC_API_KEY", "compute.api.cloud.yandex.net", "https://yandex.cloud/en/docs/iam/concepts/authorization/api-key", "AQVN + 35-38 [A-Za-z0-9_-]", F("AQVN", (URL, 36)), "Authorization: Api-Key {v}")
K("databricks-pat", "Databricks", "DATABRICKS_TOKEN", "adb-1234.azuredatabricks.net", "https://docs.databricks.com/en/dev-tools/auth/pat.html", "dapi + 32 lower-case hex (optionally -N suffix)", F("dapi", (H, 32)))
K("confluent-cloud-api-secret", "Confluent Cloud", "CONFLUENT_CLOUD_API_SECRET", "api.confluent.cloud", "https://docs.confluent.io/cloud/current/security/authenticate/workload-identities/service-accounts/api-keys/overview.html", "64 [A-Za-z0-9+/] secret (key is 16 [A-Z0-9]), named by context", F((AN + "+/", 64)), "Authorization: Basic {v}")
# --- source hosting and CI
GH = "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/about-authentication-to-github#githubs-token-formats"
K("github-pat-classic", "GitHub", "GITHUB_TOKEN", "api.github.com", GH, "ghp_ + 30 base62 + 6 base62 CRC32 checksum (36)", crc_token("ghp_"))
K("github-oauth-token", "GitHub", "GH_OAUTH_TOKEN", "api.github.com", GH, "gho_ + 36 base62 with CRC32 checksum", crc_token("gho_"))
K("github-user-to-server-token", "GitHub", "GH_APP_USER_TOKEN", "api.github.com", GH, "ghu_ + 36 base62 with CRC32 checksum", crc_token("ghu_"))
K("github-server-to-server-token", "GitHub", "GH_INSTALLATION_TOKEN", "api.github.com", GH, "ghs_ + 36 base62 with CRC32 checksum", crc_token("ghs_"))
K("github-refresh-token", "GitHub", "GH_REFRESH_TOKEN", "github.com", GH, "ghr_ + 76 base62", F("ghr_", (AN, 76)))
K("github-fine-grained-pat", "GitHub", "GITHUB_PAT", "api.github.com", GH, "github_pat_ + 22 base62 + _ + 59 base62", F("github_pat_", (AN, 22), "_", (AN, 59)))
GL = "https://docs.gitlab.com/ee/security/tokens/#token-prefixes"
K("gitlab-pat", "GitLab", "GITLAB_TOKEN", "gitlab.com", GL, "glpat- + 20 [A-Za-z0-9_-]", F("glpat-", (URL, 20)), "PRIVATE-TOKEN: {v}")
K("gitlab-pipeline-trigger-token", "GitLab", "GITLAB_TRIGGER_TOKEN", "gitlab.com", GL, "glptt- + 40 hex", F("glptt-", (H, 40)), "X-Gitlab-Token: {v}")
K("gitlab-runner-auth-token", "GitLab", "CI_RUNNER_TOKEN", "gitlab.com", GL, "glrt- + 20 [A-Za-z0-9_-]", F("glrt-", (URL, 20)), "X-Runner-Token: {v}")
K("gitlab-runner-registration-token", "GitLab", "REGISTRATION_TOKEN", "gitlab.com", GL, "GR1348941 + 20 [A-Za-z0-9_-] (legacy registration token)", F("GR1348941", (URL, 20)), "X-Runner-Token: {v}")
K("gitlab-deploy-token", "GitLab", "GITLAB_DEPLOY_TOKEN", "registry.gitlab.com", GL, "gldt- + 20 [A-Za-z0-9_-]", F("gldt-", (URL, 20)), "Deploy-Token: {v}")
K("gitlab-feed-token", "GitLab", "GITLAB_FEED_TOKEN", "gitlab.com", GL, "glft- + 20 [A-Za-z0-9_-]", F("glft-", (URL, 20)), "X-Feed-Token: {v}")
K("gitlab-oauth-app-secret", "GitLab", "GITLAB_OAUTH_SECRET", "gitlab.com", GL, "gloas- + 64 hex", F("gloas-", (H, 64)))
K("gitlab-agent-token", "GitLab", "GITLAB_AGENT_TOKEN", "kas.gitlab.com", GL, "glagent- + 50 [A-Za-z0-9_-]", F("glagent-", (URL, 50)))
K("gitlab-scim-token", "GitLab", "GITLAB_SCIM_TOKEN", "gitlab.com", GL, "glsoat- + 20 [A-Za-z0-9_-]", F("glsoat-", (URL, 20)))
K("gitlab-ci-build-token", "GitLab", "GITLAB_CI_BUILD_TOKEN", "gitlab.com", GL, "glcbt- + 1-5 hex + _ + 20 [A-Za-z0-9_-]", F("glcbt-", (H, 2), "_", (URL, 20)), "JOB-TOKEN: {v}")
K("bitbucket-app-password", "Bitbucket", "BITBUCKET_APP_PASSWORD", "api.bitbucket.org", "https://support.atlassian.com/bitbucket-cloud/docs/app-passwords/", "ATBB + 32 [A-Za-z0-9] (observable format)", F("ATBB", (AN, 32)), "Authorization: Basic {v}")
K("bitbucket-repo-access-token", "Bitbucket", "BITBUCKET_ACCESS_TOKEN", "api.bitbucket.org", "https://support.atlassian.com/bitbucket-cloud/docs/repository-access-tokens/", "ATCTT3xFfGN0 + ~170 [A-Za-z0-9_-] + = + 8 hex", g_bitbucket_rat)
K("atlassian-api-token", "Atlassian (Jira/Confluence)", "JIRA_API_TOKEN", "acme.atlassian.net", "https://support.atlassian.com/atlassian-account/docs/manage-api-tokens-for-your-atlassian-account/", "ATATT3xFfGF0 + ~170 [A-Za-z0-9_-] + = + 8 hex", g_atlassian, "Authorization: Basic {v}")
K("circleci-personal-token", "CircleCI", "CIRCLECI_TOKEN", "circleci.com", "https://circleci.com/docs/managing-api-tokens/", "CCIPAT_ + 22 [A-Za-z0-9] + _ + 40 hex", F("CCIPAT_", (AN, 22), "_", (H, 40)), "Circle-Token: {v}")
K("circleci-legacy-token", "CircleCI", "CIRCLE_TOKEN", "circleci.com", "https://circleci.com/docs/managing-api-tokens/", "40 hex (legacy personal/project token), named by context", F((H, 40)), "Circle-Token: {v}")
K("travis-ci-token", "Travis CI", "TRAVIS_API_TOKEN", "api.travis-ci.com", "https://docs.travis-ci.com/user/triggering-builds/", "22 [A-Za-z0-9_-], named by context", F((URL, 22)), "Authorization: token {v}")
K("jenkins-api-token", "Jenkins", "JENKINS_API_TOKEN", "jenkins.internal.acme.io", "https://www.jenkins.io/doc/book/system-administration/authenticating-scripted-clients/", "34 hex beginning 11 (version byte), named by context", F("11", (H, 32)), "Authorization: Basic {v}")
K("buildkite-api-token", "Buildkite", "BUILDKITE_API_TOKEN", "api.buildkite.com", "https://buildkite.com/docs/apis/managing-api-tokens", "bkua_ + 40 lower-case hex", F("bkua_", (H, 40)))
K("buildkite-agent-token", "Buildkite", "BUILDKITE_AGENT_TOKEN", "agent.buildkite.com", "https://buildkite.com/docs/agent/v3/tokens", "50 [a-z0-9], named by context", F((LN, 50)), "Authorization: Token {v}")
K("drone-ci-token", "Drone CI", "DRONE_TOKEN", "drone.acme.io", "https://docs.drone.io/cli/setup/", "32 [A-Za-z0-9], named by context", F((AN, 32)))
K("gitea-token", "Gitea", "GITEA_TOKEN", "gitea.acme.io", "https://docs.gitea.com/development/api-usage#authentication", "40 lower-case hex, named by context", F((H, 40)), "Authorization: token {v}")
K("sourcegraph-access-token", "Sourcegraph", "SRC_ACCESS_TOKEN", "sourcegraph.com", "https://sourcegraph.com/docs/cli/how-tos/creating_an_access_token", "sgp_ + 16 hex + _ + 40 hex", F("sgp_", (H, 16), "_", (H, 40)), "Authorization: token {v}")
K("sonarqube-user-token", "SonarQube", "SONAR_TOKEN", "sonarcloud.io", "https://docs.sonarsource.com/sonarqube-server/latest/user-guide/managing-tokens/", "squ_ + 40 hex (user token)", F("squ_", (H, 40)))
K("sonarqube-project-token", "SonarQube", "SONAR_PROJECT_TOKEN", "sonarqube.acme.io", "https://docs.sonarsource.com/sonarqube-server/latest/user-guide/managing-tokens/", "sqp_ + 40 hex (project analysis token)", F("sqp_", (H, 40)))
K("sonarqube-global-token", "SonarQube", "SONAR_GLOBAL_TOKEN", "sonarqube.acme.io", "https://docs.sonarsource.com/sonarqube-server/latest/user-guide/managing-tokens/", "sqa_ + 40 hex (global analysis token)", F("sqa_", (H, 40)))
K("codecov-upload-token", "Codecov", "CODECOV_TOKEN", "codecov.io", "https://docs.codecov.com/docs/codecov-tokens", "UUID v4, named by context", uuid4)
K("snyk-api-token", "Snyk", "SNYK_TOKEN", "api.snyk.io", "https://docs.snyk.io/snyk-api/authentication-for-api", "UUID v4, named by context", uuid4, "Authorization: token {v}")
K("octopus-deploy-api-key", "Octopus Deploy", "OCTOPUS_API_KEY", "acme.octopus.app", "https://octopus.com/docs/octopus-rest-api/how-to-create-an-api-key", "API- + 26-32 [A-Z0-9]", F("API-", (UN, 30)), "X-Octopus-ApiKey: {v}")
K("harness-pat", "Harness", "HARNESS_API_KEY", "app.harness.io", "https://developer.harness.io/docs/platform/automation/api/add-and-manage-api-keys/", "pat. + 22 account id + . + 24 hex id + . + 20 [A-Za-z0-9]", F("pat.", (URL, 22), ".", (H, 24), ".", (AN, 20)), "x-api-key: {v}")
K("pulumi-access-token", "Pulumi", "PULUMI_ACCESS_TOKEN", "api.pulumi.com", "https://www.pulumi.com/docs/pulumi-cloud/access-management/access-tokens/", "pul- + 40 hex", F("pul-", (H, 40)), "Authorization: token {v}")
K("terraform-cloud-token", "Terraform Cloud", "TFE_TOKEN", "app.terraform.io", "https://developer.hashicorp.com/terraform/cloud-docs/users-teams-organizations/api-tokens", "14 [A-Za-z0-9] + .atlasv1. + 67 [A-Za-z0-9_-]", F((AN, 14), ".atlasv1.", (URL, 67)))
# --- package registries
K("npm-access-token", "npm", "NPM_TOKEN", "registry.npmjs.org", "https://docs.npmjs.com/about-access-tokens", "npm_ + 30 base62 + 6 base62 CRC32 checksum", crc_token("npm_"))
K("pypi-upload-token", "PyPI", "PYPI_API_TOKEN", "upload.pypi.org", "https://pypi.org/help/#apitoken", "pypi- + base64url macaroon beginning AgEIcHlwaS5vcmc (pypi.org)", g_pypi("AgEIcHlwaS5vcmc"), "Authorization: Basic {v}")
K("testpypi-upload-token", "TestPyPI", "TEST_PYPI_API_TOKEN", "test.pypi.org", "https://test.pypi.org/help/#apitoken", "pypi- + base64url macaroon beginning AgENdGVzdC5weXBpLm9yZw (test.pypi.org)", g_pypi("AgENdGVzdC5weXBpLm9yZw"), "Authorization: Basic {v}")
K("rubygems-api-key", "RubyGems", "GEM_HOST_API_KEY", "rubygems.org", "https://guides.rubygems.org/api-key-scopes/", "rubygems_ + 48 hex", F("rubygems_", (H, 48)), "Authorization: {v}")
K("nuget-api-key", "NuGet", "NUGET_API_KEY", "www.nuget.org", "https://learn.microsoft.com/en-us/nuget/nuget-org/scoped-api-keys", "oy2 + 43 [a-z0-9] (46 chars, observable format)", F("oy2", (LN, 43)), "X-NuGet-ApiKey: {v}")
K("crates-io-token", "crates.io", "CARGO_REGISTRY_TOKEN", "crates.io", "https://doc.rust-lang.org/cargo/reference/publishing.html#before-your-first-publish", "cio + 32 [A-Za-z0-9]", F("cio", (AN, 32)), "Authorization: {v}")
K("dockerhub-pat", "Docker Hub", "DOCKERHUB_TOKEN", "hub.docker.com", "https://docs.docker.com/security/for-developers/access-tokens/", "dckr_pat_ + 27 [A-Za-z0-9_-]", F("dckr_pat_", (URL, 27)))
K("dockerhub-org-token", "Docker Hub", "DOCKER_ORG_TOKEN", "hub.docker.com", "https://docs.docker.com/security/for-admins/access-tokens/", "dckr_oat_ + 32 [A-Za-z0-9_-]", F("dckr_oat_", (URL, 32)))
K("artifactory-api-key", "JFrog Artifactory", "ARTIFACTORY_API_KEY", "acme.jfrog.io", "https://jfrog.com/help/r/jfrog-platform-administration-documentation/api-key", "AKCp + 69 [A-Za-z0-9] (73 chars)", F("AKCp", (AN, 69)), "X-JFrog-Art-Api: {v}")
K("jfrog-reference-token", "JFrog", "JFROG_ACCESS_TOKEN", "acme.jfrog.io", "https://jfrog.com/help/r/jfrog-platform-administration-documentation/access-tokens", "cmVmdGtu (base64 'reftkn') + 56 base64 (64 chars)", F("cmVmdGtuOjAxOj", (AN, 50)))
K("clojars-deploy-token", "Clojars", "CLOJARS_DEPLOY_TOKEN", "repo.clojars.org", "https://github.com/clojars/clojars-web/wiki/Deploy-Tokens", "CLOJARS_ + 60 hex", F("CLOJARS_", (H, 60)), "Authorization: Basic {v}")
K("hex-pm-api-key", "Hex.pm", "HEX_API_KEY", "hex.pm", "https://hex.pm/docs/publish", "32 lower-case hex, named by context", F((H, 32)), "Authorization: {v}")
K("gradle-plugin-portal-secret", "Gradle Plugin Portal", "GRADLE_PUBLISH_SECRET", "plugins.gradle.org", "https://docs.gradle.org/current/userguide/publishing_gradle_plugins.html", "32 [A-Za-z0-9] (gradle.publish.secret), named by context", F((AN, 32)), "X-Gradle-Publish-Secret: {v}")
K("quay-robot-token", "Quay.io", "QUAY_ROBOT_TOKEN", "quay.io", "https://docs.quay.io/glossary/robot-accounts.html", "64 [A-Z0-9], named by context", F((UN, 64)))
# --- payments
K("stripe-secret-key", "Stripe", "STRIPE_SECRET_KEY", "api.stripe.com", "https://docs.stripe.com/keys", "sk_live_ + 24 or 99 [A-Za-z0-9]", g_stripe("sk_live_"))
K("stripe-restricted-key", "Stripe", "STRIPE_RESTRICTED_KEY", "api.stripe.com", "https://docs.stripe.com/keys#limit-access", "rk_live_ + 24 or 99 [A-Za-z0-9]", g_stripe("rk_live_"))
K("stripe-webhook-secret", "Stripe", "STRIPE_WEBHOOK_SECRET", "api.stripe.com", "https://docs.stripe.com/webhooks#verify-official-libraries", "whsec_ + 32 [A-Za-z0-9]", F("whsec_", (AN, 32)), "Stripe-Webhook-Secret: {v}")
K("square-access-token", "Square", "SQUARE_ACCESS_TOKEN", "connect.squareup.com", "https://developer.squareup.com/docs/build-basics/access-tokens", "EAAA + 60 [A-Za-z0-9_-]", F("EAAA", (URL, 60)))
K("square-oauth-secret", "Square", "SQUARE_APPLICATION_SECRET", "connect.squareup.com", "https://developer.squareup.com/docs/oauth-api/overview", "sq0csp- + 43 [A-Za-z0-9_-]", F("sq0csp-", (URL, 43)))
K("braintree-access-token", "PayPal Braintree", "BRAINTREE_ACCESS_TOKEN", "payments.braintree-api.com", "https://developer.paypal.com/braintree/docs/guides/authorization/access-token", "access_token$production$ + 16 [a-z0-9] + $ + 32 hex", g_braintree)
K("braintree-private-key", "PayPal Braintree", "BRAINTREE_PRIVATE_KEY", "payments.braintree-api.com", "https://developer.paypal.com/braintree/articles/control-panel/important-gateway-credentials", "32 lower-case hex, named by context", F((H, 32)), "Authorization: Basic {v}")
K("paypal-client-secret", "PayPal", "PAYPAL_CLIENT_SECRET", "api-m.paypal.com", "https://developer.paypal.com/api/rest/authentication/", "80 [A-Za-z0-9_-], named by context", F((URL, 80)), "Authorization: Basic {v}")
K("adyen-api-key", "Adyen", "ADYEN_API_KEY", "checkout-live.adyen.com", "https://docs.adyen.com/development-resources/api-credentials/#generate-api-key", "AQE + long base64-like key with =- separators, X-API-Key header", g_adyen, "X-API-Key: {v}")
K("razorpay-key-secret", "Razorpay", "RAZORPAY_KEY_SECRET", "api.razorpay.com", "https://razorpay.com/docs/api/authentication/", "24 [A-Za-z0-9] secret paired with rzp_live_ key id, named by context", F((AN, 24)), "Authorization: Basic {v}")
K("flutterwave-secret-key", "Flutterwave", "FLW_SECRET_KEY", "api.flutterwave.com", "https://developer.flutterwave.com/docs/authentication", "FLWSECK- + 32 hex + -X", F("FLWSECK-", (H, 32), "-X"))
K("paystack-secret-key", "Paystack", "PAYSTACK_SECRET_KEY", "api.paystack.co", "https://paystack.com/docs/api/authentication/", "sk_live_ + 40 hex", F("sk_live_", (H, 40)))
K("plaid-secret", "Plaid", "PLAID_SECRET", "production.plaid.com", "https://plaid.com/docs/api/#api-access", "30 lower-case hex, named by context", F((H, 30)), "PLAID-SECRET: {v}")
K("gocardless-access-token", "GoCardless", "GOCARDLESS_ACCESS_TOKEN", "api.gocardless.com", "https://developer.gocardless.com/getting-started/api/making-your-first-request/", "live_ + 40 [A-Za-z0-9_-]", F("live_", (URL, 40)))
K("mollie-api-key", "Mollie", "MOLLIE_API_KEY", "api.mollie.com", "https://docs.mollie.com/reference/authentication", "live_ + 30 [A-Za-z0-9]", F("live_", (AN, 30)))
K("shippo-api-token", "Shippo", "SHIPPO_API_TOKEN", "api.goshippo.com", "https://docs.goshippo.com/docs/guides_general/authentication/", "shippo_live_ + 40 hex", F("shippo_live_", (H, 40)), "Authorization: ShippoToken {v}")
K("easypost-api-key", "EasyPost", "EASYPOST_API_KEY", "api.easypost.com", "https://docs.easypost.com/docs/authentication", "EZAK + 54 [A-Za-z0-9]", F("EZAK", (AN, 54)))
# --- commerce / CRM / SaaS
SHOP = "https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/generate-app-access-tokens-admin"
K("shopify-admin-token", "Shopify", "SHOPIFY_ACCESS_TOKEN", "acme.myshopify.com", SHOP, "shpat_ + 32 hex", F("shpat_", (H, 32)), "X-Shopify-Access-Token: {v}")
K("shopify-shared-secret", "Shopify", "SHOPIFY_API_SECRET", "acme.myshopify.com", SHOP, "shpss_ + 32 hex", F("shpss_", (H, 32)), "X-Shopify-Hmac-Secret: {v}")
K("shopify-custom-app-token", "Shopify", "SHOPIFY_CUSTOM_APP_TOKEN", "acme.myshopify.com", SHOP, "shpca_ + 32 hex", F("shpca_", (H, 32)), "X-Shopify-Access-Token: {v}")
K("shopify-private-app-token", "Shopify", "SHOPIFY_PRIVATE_APP_PASSWORD", "acme.myshopify.com", SHOP, "shppa_ + 32 hex", F("shppa_", (H, 32)), "X-Shopify-Access-Token: {v}")
K("hubspot-private-app-token", "HubSpot", "HUBSPOT_ACCESS_TOKEN", "api.hubapi.com", "https://developers.hubspot.com/docs/api/private-apps", "pat- + region (na1/eu1) + - + UUID", lambda r: "pat-" + r.choice(("na1", "eu1")) + "-" + uuid4(r))
K("airtable-pat", "Airtable", "AIRTABLE_TOKEN", "api.airtable.com", "https://airtable.com/developers/web/guides/personal-access-tokens", "pat + 14 [A-Za-z0-9] + . + 64 hex", F("pat", (AN, 14), ".", (H, 64)))
K("figma-pat", "Figma", "FIGMA_TOKEN", "api.figma.com", "https://www.figma.com/developers/api#access-tokens", "figd_ + 40 [A-Za-z0-9_-]", F("figd_", (URL, 40)), "X-Figma-Token: {v}")
K("linear-api-key", "Linear", "LINEAR_API_KEY", "api.linear.app", "https://linear.app/developers/graphql#personal-api-keys", "lin_api_ + 40 [A-Za-z0-9]", F("lin_api_", (AN, 40)), "Authorization: {v}")
K("linear-oauth-token", "Linear", "LINEAR_OAUTH_TOKEN", "api.linear.app", "https://linear.app/developers/oauth-2-0-authentication", "lin_oauth_ + 64 hex", F("lin_oauth_", (H, 64)))
K("notion-integration-token", "Notion", "NOTION_TOKEN", "api.notion.com", "https://developers.notion.com/docs/authorization#internal-integration-auth-flow-set-up", "ntn_ + 11 digits + 35 [A-Za-z0-9] (50 chars)", F("ntn_", (D, 11), (AN, 35)))
K("notion-legacy-secret", "Notion", "NOTION_API_KEY", "api.notion.com", "https://developers.notion.com/docs/authorization", "secret_ + 43 [A-Za-z0-9] (pre-2024 internal integration token)", F("secret_", (AN, 43)))
K("postman-api-key", "Postman", "POSTMAN_API_KEY", "api.getpostman.com", "https://learning.postman.com/docs/developer/postman-api/authentication/", "PMAK- + 24 hex + - + 34 hex", F("PMAK-", (H, 24), "-", (H, 34)), "X-Api-Key: {v}")
K("launchdarkly-sdk-key", "LaunchDarkly", "LAUNCHDARKLY_SDK_KEY", "sdk.launchdarkly.com", "https://docs.launchdarkly.com/sdk/concepts/client-side-server-side#keys", "sdk- + UUID", lambda r: "sdk-" + uuid4(r))
K("launchdarkly-api-token", "LaunchDarkly", "LAUNCHDARKLY_ACCESS_TOKEN", "app.launchdarkly.com", "https://docs.launchdarkly.com/home/account/api-create", "api- + UUID", lambda r: "api-" + uuid4(r), "Authorization: {v}")
K("posthog-personal-api-key", "PostHog", "POSTHOG_PERSONAL_API_KEY", "us.posthog.com", "https://posthog.com/docs/api#private-endpoint-authentication", "phx_ + 43 [A-Za-z0-9]", F("phx_", (AN, 43)))
K("supabase-secret-key", "Supabase", "SUPABASE_SECRET_KEY", "acme.supabase.co", "https://supabase.com/docs/guides/api/api-keys", "sb_secret_ + 31 [A-Za-z0-9_-]", F("sb_secret_", (URL, 31)), "apikey: {v}")
K("supabase-access-token", "Supabase", "SUPABASE_ACCESS_TOKEN", "api.supabase.com", "https://supabase.com/docs/reference/cli/supabase-login", "sbp_ + 40 hex", F("sbp_", (H, 40)))
K("vercel-token", "Vercel", "VERCEL_TOKEN", "api.vercel.com", "https://vercel.com/docs/rest-api#creating-an-access-token", "24 [A-Za-z0-9], named by context", F((AN, 24)))
K("netlify-pat", "Netlify", "NETLIFY_AUTH_TOKEN", "api.netlify.com", "https://docs.netlify.com/api/get-started/#authentication", "nfp_ + 36 [A-Za-z0-9]", F("nfp_", (AN, 36)))
K("heroku-api-key", "Heroku", "HEROKU_API_KEY", "api.heroku.com", "https://devcenter.heroku.com/articles/authentication", "HRKU-AA + 58 [A-Za-z0-9_-] (observable format of new API keys)", F("HRKU-AA", (URL, 58)))
K("heroku-api-key-legacy", "Heroku", "HEROKU_API_KEY", "api.heroku.com", "https://devcenter.heroku.com/articles/authentication", "UUID (legacy API key), named by context", uuid4)
K("contentful-pat", "Contentful", "CONTENTFUL_MANAGEMENT_TOKEN", "api.contentful.com", "https://www.contentful.com/developers/docs/references/authentication/", "CFPAT- + 43 [A-Za-z0-9_-]", F("CFPAT-", (URL, 43)))
K("asana-pat", "Asana", "ASANA_ACCESS_TOKEN", "app.asana.com", "https://developers.asana.com/docs/personal-access-token", "2/ + 16 digits + / + 16 digits + : + 32 hex", g_asana)
K("dropbox-access-token", "Dropbox", "DROPBOX_ACCESS_TOKEN", "api.dropboxapi.com", "https://developers.dropbox.com/oauth-guide", "sl.u. + ~140 [A-Za-z0-9_-] (short-lived token)", F("sl.u.", (URL, 140)))
K("mapbox-secret-token", "Mapbox", "MAPBOX_SECRET_TOKEN", "api.mapbox.com", "https://docs.mapbox.com/accounts/guides/tokens/", "sk. + base64url JSON {u,a} + . + 22 [A-Za-z0-9_-]", g_mapbox)
K("algolia-admin-key", "Algolia", "ALGOLIA_ADMIN_API_KEY", "acme-dsn.algolia.net", "https://www.algolia.com/doc/guides/security/api-keys/", "32 lower-case hex, named by context", F((H, 32)), "X-Algolia-API-Key: {v}")
K("typeform-pat", "Typeform", "TYPEFORM_TOKEN", "api.typeform.com", "https://www.typeform.com/developers/get-started/personal-access-token/", "tfp_ + 44 [A-Za-z0-9_-] + _ + 14 [A-Za-z0-9]", F("tfp_", (URL, 44), "_", (AN, 14)))
K("planetscale-service-token", "PlanetScale", "PLANETSCALE_SERVICE_TOKEN", "api.planetscale.com", "https://planetscale.com/docs/concepts/service-tokens", "pscale_tkn_ + 43 [A-Za-z0-9_-]", F("pscale_tkn_", (URL, 43)))
K("planetscale-password", "PlanetScale", "DATABASE_PASSWORD", "aws.connect.psdb.cloud", "https://planetscale.com/docs/concepts/connection-strings", "pscale_pw_ + 43 [A-Za-z0-9_-]", F("pscale_pw_", (URL, 43)))
K("fly-io-token", "Fly.io", "FLY_API_TOKEN", "api.machines.dev", "https://fly.io/docs/security/tokens/", "fo1_ + 43 [A-Za-z0-9_-] (org/deploy token)", F("fo1_", (URL, 43)))
K("render-api-key", "Render", "RENDER_API_KEY", "api.render.com", "https://render.com/docs/api#1-create-an-api-key", "rnd_ + 32 [A-Za-z0-9]", F("rnd_", (AN, 32)))
K("prefect-api-key", "Prefect", "PREFECT_API_KEY", "api.prefect.cloud", "https://docs.prefect.io/v3/manage/cloud/manage-users/api-keys", "pnu_ + 36 [A-Za-z0-9]", F("pnu_", (AN, 36)))
K("clickup-api-token", "ClickUp", "CLICKUP_API_TOKEN", "api.clickup.com", "https://clickup.com/api/developer-portal/authentication/", "pk_ + digits + _ + 32 [A-Z0-9]", lambda r: "pk_" + str(r.randrange(10**6, 10**9)) + "_" + rand(r, UN, 32), "Authorization: {v}")
K("trello-token", "Trello", "TRELLO_TOKEN", "api.trello.com", "https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/", "ATTA + 64 hex + 8 hex (76 chars)", F("ATTA", (H, 72)), "Authorization: OAuth oauth_token={v}")
K("readme-api-key", "ReadMe", "README_API_KEY", "dash.readme.com", "https://docs.readme.com/main/reference/intro/authentication", "rdme_ + 70 hex", F("rdme_", (H, 70)))
K("frameio-token", "Frame.io", "FRAMEIO_TOKEN", "api.frame.io", "https://developer.frame.io/docs/getting-started/authentication", "fio-u- + 64 [A-Za-z0-9_-]", F("fio-u-", (URL, 64)))
K("ngrok-authtoken", "ngrok", "NGROK_AUTHTOKEN", "api.ngrok.com", "https://ngrok.com/docs/agent/#authtokens", "2 + 26 [A-Za-z0-9] + _ + 21 [A-Za-z0-9] (observable), named by context", F("2", (AN, 26), "_", (AN, 21)))
K("tailscale-auth-key", "Tailscale", "TS_AUTHKEY", "api.tailscale.com", "https://tailscale.com/kb/1085/auth-keys", "tskey-auth- + id + - + 32 [A-Za-z0-9]", F("tskey-auth-", (AN, 12), "CNTRL-", (AN, 32)))
K("tailscale-api-key", "Tailscale", "TAILSCALE_API_KEY", "api.tailscale.com", "https://tailscale.com/kb/1101/api", "tskey-api- + id + - + 32 [A-Za-z0-9]", F("tskey-api-", (AN, 12), "CNTRL-", (AN, 32)))
K("salesforce-access-token", "Salesforce", "SALESFORCE_ACCESS_TOKEN", "acme.my.salesforce.com", "https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flows.htm", "00D + 12 org id chars + ! + ~96 [A-Za-z0-9.]", g_salesforce)
K("zendesk-api-token", "Zendesk", "ZENDESK_API_TOKEN", "acme.zendesk.com", "https://developer.zendesk.com/api-reference/introduction/security-and-auth/", "40 [A-Za-z0-9], named by context", F((AN, 40)), "Authorization: Basic {v}")
K("intercom-access-token", "Intercom", "INTERCOM_ACCESS_TOKEN", "api.intercom.io", "https://developers.intercom.com/docs/build-an-integration/learn-more/authentication", "dG9rOj (base64 'tok:') + base64 of uuid:1:0", g_intercom)
K("rapidapi-key", "RapidAPI", "RAPIDAPI_KEY", "rapidapi.com", "https://docs.rapidapi.com/docs/keys-and-key-rotation", "50 [A-Za-z0-9], X-RapidAPI-Key header, named by context", F((AN, 50)), "X-RapidAPI-Key: {v}")
K("twitch-client-secret", "Twitch", "TWITCH_CLIENT_SECRET", "id.twitch.tv", "https://dev.twitch.tv/docs/authentication/register-app/", "30 [a-z0-9], named by context", F((LN, 30)), "Client-Secret: {v}")
K("x-bearer-token", "X (Twitter)", "TWITTER_BEARER_TOKEN", "api.twitter.com", "https://developer.x.com/en/docs/authentication/oauth-2-0/bearer-tokens", "21 'A' + app id + %3D + 50 [A-Za-z0-9] (URL-encoded)", g_x_bearer)
K("meta-access-token", "Meta (Facebook)", "FACEBOOK_ACCESS_TOKEN", "graph.facebook.com", "https://developers.facebook.com/docs/facebook-login/guides/access-tokens/", "EAAG/EAAB + ~180 [A-Za-z0-9]", g_meta)
K("firebase-fcm-server-key", "Firebase Cloud Messaging", "FCM_SERVER_KEY", "fcm.googleapis.com", "https://firebase.google.com/docs/cloud-messaging/auth-server", "AAAA + 7 [A-Za-z0-9_-] + :APA91b + 134 [A-Za-z0-9_-] (legacy server key)", g_fcm, "Authorization: key={v}")
# --- messaging / email
K("twilio-auth-token", "Twilio", "TWILIO_AUTH_TOKEN", "api.twilio.com", "https://www.twilio.com/docs/iam/api#authentication", "32 lower-case hex, named by context (account SID AC + 32 hex)", F((H, 32)), "Authorization: Basic {v}")
K("twilio-api-key-sid", "Twilio", "TWILIO_API_KEY", "api.twilio.com", "https://www.twilio.com/docs/iam/api-keys", "SK + 32 lower-case hex", F("SK", (H, 32)), "Authorization: Basic {v}")
K("sendgrid-api-key", "SendGrid", "SENDGRID_API_KEY", "api.sendgrid.com", "https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys", "SG. + 22 [A-Za-z0-9_-] + . + 43 [A-Za-z0-9_-]", F("SG.", (URL, 22), ".", (URL, 43)))
K("mailgun-api-key", "Mailgun", "MAILGUN_API_KEY", "api.mailgun.net", "https://documentation.mailgun.com/docs/mailgun/api-reference/authentication/", "32 hex + - + 8 hex + - + 8 hex (private API key), named by context", F((H, 32), "-", (H, 8), "-", (H, 8)), "Authorization: Basic {v}")
K("mailgun-api-key-legacy", "Mailgun", "MAILGUN_KEY", "api.mailgun.net", "https://documentation.mailgun.com/docs/mailgun/api-reference/authentication/", "key- + 32 hex (legacy)", F("key-", (H, 32)), "Authorization: Basic {v}")
K("mailchimp-api-key", "Mailchimp", "MAILCHIMP_API_KEY", "us6.api.mailchimp.com", "https://mailchimp.com/developer/marketing/guides/quick-start/", "32 hex + -us + data-center number", g_mailchimp)
K("mandrill-api-key", "Mandrill", "MANDRILL_API_KEY", "mandrillapp.com", "https://mailchimp.com/developer/transactional/guides/quick-start/", "md- + 22 [A-Za-z0-9_-]", F("md-", (URL, 22)), "X-Mandrill-Key: {v}")
K("postmark-server-token", "Postmark", "POSTMARK_SERVER_TOKEN", "api.postmarkapp.com", "https://postmarkapp.com/developer/api/overview#authentication", "UUID, X-Postmark-Server-Token header, named by context", uuid4, "X-Postmark-Server-Token: {v}")
K("brevo-api-key", "Brevo (Sendinblue)", "BREVO_API_KEY", "api.brevo.com", "https://developers.brevo.com/docs/getting-started", "xkeysib- + 64 hex + - + 16 [A-Za-z0-9]", F("xkeysib-", (H, 64), "-", (AN, 16)), "api-key: {v}")
K("slack-bot-token", "Slack", "SLACK_BOT_TOKEN", "slack.com", "https://api.slack.com/concepts/token-types", "xoxb- + team digits + - + bot digits + - + 24 [A-Za-z0-9]", g_slack_bot)
K("slack-user-token", "Slack", "SLACK_USER_TOKEN", "slack.com", "https://api.slack.com/concepts/token-types", "xoxp- + digits-digits-digits + - + 32 hex", g_slack_user)
K("slack-app-token", "Slack", "SLACK_APP_TOKEN", "slack.com", "https://api.slack.com/concepts/token-types#app-level", "xapp-1-A + 10 [A-Z0-9] + - + 13 digits + - + 64 hex", g_slack_app)
K("slack-config-token", "Slack", "SLACK_CONFIG_TOKEN", "slack.com", "https://api.slack.com/authentication/config-tokens", "xoxe.xoxp-1- + ~148 [A-Za-z0-9]", g_slack_config)
K("slack-incoming-webhook", "Slack", "SLACK_WEBHOOK_URL", "hooks.slack.com", "https://api.slack.com/messaging/webhooks", "https://hooks.slack.com/services/T.../B.../24 [A-Za-z0-9]; the whole URL is the secret", g_slack_webhook, "X-Slack-Webhook: {v}")
K("slack-workflow-webhook", "Slack", "SLACK_WORKFLOW_WEBHOOK", "hooks.slack.com", "https://slack.com/help/articles/360041352714-Build-a-workflow--Create-a-workflow-that-starts-outside-of-Slack", "https://hooks.slack.com/triggers/T.../digits/32 hex; whole URL", g_slack_workflow, "X-Slack-Webhook: {v}")
K("discord-bot-token", "Discord", "DISCORD_BOT_TOKEN", "discord.com", "https://discord.com/developers/docs/reference#authentication", "base64(user id) + . + 6 [A-Za-z0-9_-] + . + 27-38 [A-Za-z0-9_-]", g_discord_bot, "Authorization: Bot {v}")
K("discord-webhook", "Discord", "DISCORD_WEBHOOK_URL", "discord.com", "https://discord.com/developers/docs/resources/webhook#execute-webhook", "https://discord.com/api/webhooks/<id>/68 [A-Za-z0-9_-]; whole URL", g_discord_webhook, "X-Discord-Webhook: {v}")
K("telegram-bot-token", "Telegram", "TELEGRAM_BOT_TOKEN", "api.telegram.org", "https://core.telegram.org/bots/api#authorizing-your-bot", "8-10 digits + : + 35 [A-Za-z0-9_-] (starts AA)", g_telegram, "X-Telegram-Bot-Token: {v}")
K("teams-incoming-webhook", "Microsoft Teams", "TEAMS_WEBHOOK_URL", "outlook.office.com", "https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook", "https://<tenant>.webhook.office.com/webhookb2/<uuid>@<uuid>/IncomingWebhook/<32 hex>/<uuid>/V2...; whole URL", g_teams_webhook, "X-Teams-Webhook: {v}")
K("vonage-api-secret", "Vonage (Nexmo)", "VONAGE_API_SECRET", "api.nexmo.com", "https://developer.vonage.com/en/getting-started/concepts/authentication", "16 [A-Za-z0-9], named by context", F((AN, 16)), "Authorization: Basic {v}")
K("messagebird-access-key", "MessageBird (Bird)", "MESSAGEBIRD_ACCESS_KEY", "rest.messagebird.com", "https://developers.messagebird.com/api/#authentication", "25 [A-Za-z0-9], named by context", F((AN, 25)), "Authorization: AccessKey {v}")
K("pusher-app-secret", "Pusher", "PUSHER_APP_SECRET", "api-eu.pusher.com", "https://pusher.com/docs/channels/server_api/http-api/#authentication", "20 lower-case hex, named by context", F((H, 20)), "X-Pusher-Secret: {v}")
# --- monitoring
K("datadog-api-key", "Datadog", "DD_API_KEY", "api.datadoghq.com", "https://docs.datadoghq.com/account_management/api-app-keys/", "32 lower-case hex, DD-API-KEY header, named by context", F((H, 32)), "DD-API-KEY: {v}")
K("datadog-app-key", "Datadog", "DD_APP_KEY", "api.datadoghq.com", "https://docs.datadoghq.com/account_management/api-app-keys/", "40 lower-case hex, DD-APPLICATION-KEY header, named by context", F((H, 40)), "DD-APPLICATION-KEY: {v}")
NR = "https://docs.newrelic.com/docs/apis/intro-apis/new-relic-api-keys/"
K("newrelic-user-key", "New Relic", "NEW_RELIC_API_KEY", "api.newrelic.com", NR, "NRAK- + 27 [A-Z0-9]", F("NRAK-", (UN, 27)), "Api-Key: {v}")
K("newrelic-license-key", "New Relic", "NEW_RELIC_LICENSE_KEY", "collector.newrelic.com", NR, "36 hex + NRAL (40 chars)", F((H, 36), "NRAL"), "X-License-Key: {v}")
K("newrelic-browser-key", "New Relic", "NEW_RELIC_BROWSER_KEY", "bam.nr-data.net", NR, "NRJS- + 19 hex", F("NRJS-", (H, 19)), "X-License-Key: {v}")
K("newrelic-insights-insert-key", "New Relic", "NEW_RELIC_INSERT_KEY", "insights-collector.newrelic.com", NR, "NRII- + 32 [A-Za-z0-9_-]", F("NRII-", (URL, 32)), "X-Insert-Key: {v}")
K("sentry-user-token", "Sentry", "SENTRY_AUTH_TOKEN", "sentry.io", "https://docs.sentry.io/security-legal-pii/security/token-formats/", "sntryu_ + 64 lower-case hex", F("sntryu_", (H, 64)))
K("sentry-org-token", "Sentry", "SENTRY_ORG_AUTH_TOKEN", "sentry.io", "https://docs.sentry.io/security-legal-pii/security/token-formats/", "sntrys_ + base64 JSON {iat,url,region_url,org} + _ + 43 base64", g_sentry_org)
K("pagerduty-api-key", "PagerDuty", "PAGERDUTY_API_KEY", "api.pagerduty.com", "https://support.pagerduty.com/main/docs/api-access-keys", "20 [A-Za-z0-9_+-] (user tokens start u+), named by context", F("u+", (URL, 18)), "Authorization: Token token={v}")
K("pagerduty-routing-key", "PagerDuty", "PAGERDUTY_ROUTING_KEY", "events.pagerduty.com", "https://developer.pagerduty.com/docs/events-api-v2/overview/", "32 hex integration (routing) key, named by context", F((H, 32)), "X-Routing-Key: {v}")
K("grafana-service-account-token", "Grafana", "GRAFANA_TOKEN", "grafana.acme.io", "https://grafana.com/docs/grafana/latest/administration/service-accounts/", "glsa_ + 32 [A-Za-z0-9] + _ + 8 hex", F("glsa_", (AN, 32), "_", (H, 8)))
K("grafana-cloud-token", "Grafana Cloud", "GRAFANA_CLOUD_TOKEN", "grafana.com", "https://grafana.com/docs/grafana-cloud/account-management/authentication-and-permissions/access-policies/", "glc_ + base64 JSON {o,n,k,m}", g_grafana_cloud)
K("grafana-api-key-legacy", "Grafana", "GRAFANA_API_KEY", "grafana.acme.io", "https://grafana.com/docs/grafana/latest/administration/api-keys/", "eyJrIjoi + base64 JSON {k,n,id}", g_grafana_legacy)
K("dynatrace-api-token", "Dynatrace", "DT_API_TOKEN", "acme.live.dynatrace.com", "https://docs.dynatrace.com/docs/manage/identity-access-management/access-tokens-and-oauth-clients/access-tokens", "dt0c01. + 24 [A-Z0-9] + . + 64 [A-Z0-9]", F("dt0c01.", (UN, 24), ".", (UN, 64)), "Authorization: Api-Token {v}")
K("splunk-hec-token", "Splunk", "SPLUNK_HEC_TOKEN", "splunk.acme.io", "https://docs.splunk.com/Documentation/Splunk/latest/Data/UsetheHTTPEventCollector", "UUID, 'Authorization: Splunk <token>', named by context", uuid4, "Authorization: Splunk {v}")
K("opsgenie-api-key", "Opsgenie", "OPSGENIE_API_KEY", "api.opsgenie.com", "https://support.atlassian.com/opsgenie/docs/api-key-management/", "UUID, 'GenieKey' auth, named by context", uuid4, "Authorization: GenieKey {v}")
K("rollbar-access-token", "Rollbar", "ROLLBAR_ACCESS_TOKEN", "api.rollbar.com", "https://docs.rollbar.com/reference/authentication", "32 lower-case hex, X-Rollbar-Access-Token, named by context", F((H, 32)), "X-Rollbar-Access-Token: {v}")
K("bugsnag-api-key", "Bugsnag", "BUGSNAG_API_KEY", "notify.bugsnag.com", "https://docs.bugsnag.com/api/error-reporting/#api-key", "32 lower-case hex, named by context", F((H, 32)), "Bugsnag-Api-Key: {v}")
K("honeycomb-api-key", "Honeycomb", "HONEYCOMB_API_KEY", "api.honeycomb.io", "https://docs.honeycomb.io/get-started/configure/environments/manage-api-keys/", "22 [A-Za-z0-9] configuration key, X-Honeycomb-Team header, named by context", F((AN, 22)), "X-Honeycomb-Team: {v}")
K("elastic-api-key", "Elastic", "ELASTIC_API_KEY", "acme.es.us-east-1.aws.found.io", "https://www.elastic.co/guide/en/elasticsearch/reference/current/security-api-create-api-key.html", "base64 of id:api_key (encoded form), 'ApiKey' auth, named by context", lambda r: b64((rand(r, URL, 20) + ":" + rand(r, URL, 22)).encode()), "Authorization: ApiKey {v}")
# --- AI
OAI = "https://platform.openai.com/docs/api-reference/authentication"
K("openai-project-key", "OpenAI", "OPENAI_API_KEY", "api.openai.com", OAI, "sk-proj- + 74 [A-Za-z0-9_-] + T3BlbkFJ + 74 [A-Za-z0-9_-]", F("sk-proj-", (URL, 74), "T3BlbkFJ", (URL, 74)))
K("openai-legacy-key", "OpenAI", "OPENAI_API_KEY", "api.openai.com", OAI, "sk- + 20 [A-Za-z0-9] + T3BlbkFJ + 20 [A-Za-z0-9]", F("sk-", (AN, 20), "T3BlbkFJ", (AN, 20)))
K("openai-service-account-key", "OpenAI", "OPENAI_SVCACCT_KEY", "api.openai.com", OAI, "sk-svcacct- + 74 + T3BlbkFJ + 74 [A-Za-z0-9_-]", F("sk-svcacct-", (URL, 74), "T3BlbkFJ", (URL, 74)))
K("openai-admin-key", "OpenAI", "OPENAI_ADMIN_KEY", "api.openai.com", "https://platform.openai.com/docs/api-reference/administration", "sk-admin- + 74 + T3BlbkFJ + 74 [A-Za-z0-9_-]", F("sk-admin-", (URL, 74), "T3BlbkFJ", (URL, 74)))
K("anthropic-api-key", "Anthropic", "ANTHROPIC_API_KEY", "api.anthropic.com", "https://docs.anthropic.com/en/api/getting-started#authentication", "sk-ant-api03- + 93 [A-Za-z0-9_-] + AA", F("sk-ant-api03-", (URL, 93), "AA"), "x-api-key: {v}")
K("anthropic-admin-key", "Anthropic", "ANTHROPIC_ADMIN_KEY", "api.anthropic.com", "https://docs.anthropic.com/en/api/administration-api", "sk-ant-admin01- + 93 [A-Za-z0-9_-] + AA", F("sk-ant-admin01-", (URL, 93), "AA"), "x-api-key: {v}")
K("huggingface-token", "Hugging Face", "HF_TOKEN", "huggingface.co", "https://huggingface.co/docs/hub/security-tokens", "hf_ + 34 [A-Za-z]", F("hf_", (U + L, 34)))
K("huggingface-org-token", "Hugging Face", "HUGGINGFACE_ORG_TOKEN", "huggingface.co", "https://huggingface.co/docs/hub/security-tokens", "api_org_ + 34 [A-Za-z] (legacy org token)", F("api_org_", (U + L, 34)))
K("cohere-api-key", "Cohere", "COHERE_API_KEY", "api.cohere.com", "https://docs.cohere.com/reference/about", "40 [A-Za-z0-9], named by context", F((AN, 40)))
K("replicate-api-token", "Replicate", "REPLICATE_API_TOKEN", "api.replicate.com", "https://replicate.com/docs/reference/http#authentication", "r8_ + 37 [A-Za-z0-9]", F("r8_", (AN, 37)))
K("groq-api-key", "Groq", "GROQ_API_KEY", "api.groq.com", "https://console.groq.com/docs/quickstart", "gsk_ + 52 [A-Za-z0-9]", F("gsk_", (AN, 52)))
K("perplexity-api-key", "Perplexity", "PERPLEXITY_API_KEY", "api.perplexity.ai", "https://docs.perplexity.ai/guides/getting-started", "pplx- + 48 [A-Za-z0-9]", F("pplx-", (AN, 48)))
K("mistral-api-key", "Mistral AI", "MISTRAL_API_KEY", "api.mistral.ai", "https://docs.mistral.ai/getting-started/quickstart/", "32 [A-Za-z0-9], named by context", F((AN, 32)))
K("deepseek-api-key", "DeepSeek", "DEEPSEEK_API_KEY", "api.deepseek.com", "https://api-docs.deepseek.com/", "sk- + 32 hex", F("sk-", (H, 32)))
K("xai-api-key", "xAI", "XAI_API_KEY", "api.x.ai", "https://docs.x.ai/docs/overview", "xai- + 80 [A-Za-z0-9]", F("xai-", (AN, 80)))
K("langsmith-api-key", "LangSmith", "LANGSMITH_API_KEY", "api.smith.langchain.com", "https://docs.smith.langchain.com/administration/how_to_guides/organization_management/create_account_api_key", "lsv2_pt_ (or sk_) + 32 hex + _ + 10 hex", F("lsv2_pt_", (H, 32), "_", (H, 10)), "x-api-key: {v}")
K("pinecone-api-key", "Pinecone", "PINECONE_API_KEY", "api.pinecone.io", "https://docs.pinecone.io/guides/projects/manage-api-keys", "pcsk_ + 5-6 [A-Za-z0-9] + _ + 63 [A-Za-z0-9]", F("pcsk_", (AN, 6), "_", (AN, 63)), "Api-Key: {v}")
K("elevenlabs-api-key", "ElevenLabs", "ELEVENLABS_API_KEY", "api.elevenlabs.io", "https://elevenlabs.io/docs/api-reference/authentication", "sk_ + 48 hex", F("sk_", (H, 48)), "xi-api-key: {v}")
K("together-api-key", "Together AI", "TOGETHER_API_KEY", "api.together.xyz", "https://docs.together.ai/reference/authentication-1", "tgp_v1_ + 43 [A-Za-z0-9_-]", F("tgp_v1_", (URL, 43)))
K("fireworks-api-key", "Fireworks AI", "FIREWORKS_API_KEY", "api.fireworks.ai", "https://docs.fireworks.ai/api-reference/introduction", "fw_ + 24 [A-Za-z0-9]", F("fw_", (AN, 24)))
K("assemblyai-api-key", "AssemblyAI", "ASSEMBLYAI_API_KEY", "api.assemblyai.com", "https://www.assemblyai.com/docs/api-reference/overview#authorization", "32 lower-case hex, named by context", F((H, 32)), "Authorization: {v}")
K("deepgram-api-key", "Deepgram", "DEEPGRAM_API_KEY", "api.deepgram.com", "https://developers.deepgram.com/docs/create-additional-api-keys", "40 lower-case hex, 'Token' auth, named by context", F((H, 40)), "Authorization: Token {v}")
K("wandb-api-key", "Weights & Biases", "WANDB_API_KEY", "api.wandb.ai", "https://docs.wandb.ai/guides/track/environment-variables/", "40 lower-case hex, named by context", F((H, 40)), "Authorization: Basic {v}")
K("openrouter-api-key", "OpenRouter", "OPENROUTER_API_KEY", "openrouter.ai", "https://openrouter.ai/docs/api-reference/authentication", "sk-or-v1- + 64 hex", F("sk-or-v1-", (H, 64)))
K("stability-api-key", "Stability AI", "STABILITY_API_KEY", "api.stability.ai", "https://platform.stability.ai/docs/getting-started/authentication", "sk- + 48 [A-Za-z0-9], named by context", F("sk-", (AN, 48)))
# --- identity and secrets managers
K("okta-api-token", "Okta", "OKTA_API_TOKEN", "acme.okta.com", "https://developer.okta.com/docs/guides/create-an-api-token/main/", "00 + 40 [A-Za-z0-9_-] (42 chars), 'SSWS' auth, named by context", F("00", (URL, 40)), "Authorization: SSWS {v}")
K("auth0-client-secret", "Auth0", "AUTH0_CLIENT_SECRET", "acme.us.auth0.com", "https://auth0.com/docs/get-started/applications/application-settings", "64 [A-Za-z0-9_-], named by context", F((URL, 64)), "X-Auth0-Client-Secret: {v}")
HV = "https://developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes"
K("vault-service-token", "HashiCorp Vault", "VAULT_TOKEN", "vault.acme.io", HV, "hvs. + 24 [A-Za-z0-9_-] (or long CAESAR form ~90+)", F("hvs.", (URL, (24, 95))), "X-Vault-Token: {v}")
K("vault-batch-token", "HashiCorp Vault", "VAULT_BATCH_TOKEN", "vault.acme.io", HV, "hvb. + ~138 [A-Za-z0-9_-]", F("hvb.", (URL, 138)), "X-Vault-Token: {v}")
K("vault-legacy-token", "HashiCorp Vault", "VAULT_TOKEN", "vault.acme.io", HV, "s. + 24 [A-Za-z0-9] (pre-1.10 service token), named by context", F("s.", (AN, 24)), "X-Vault-Token: {v}")
DOP = "https://docs.doppler.com/docs/Auth-token-formats"
K("doppler-personal-token", "Doppler", "DOPPLER_TOKEN", "api.doppler.com", DOP, "dp.pt. + 40-44 [A-Za-z0-9]", F("dp.pt.", (AN, 43)))
K("doppler-service-token", "Doppler", "DOPPLER_TOKEN", "api.doppler.com", DOP, "dp.st. + optional [a-z0-9_-]{2,35} env slug + . + 40-44 [A-Za-z0-9]", F("dp.st.prd.", (AN, 43)))
K("doppler-cli-token", "Doppler", "DOPPLER_CLI_TOKEN", "api.doppler.com", DOP, "dp.ct. + 40-44 [A-Za-z0-9]", F("dp.ct.", (AN, 43)))
K("doppler-service-account-token", "Doppler", "DOPPLER_SA_TOKEN", "api.doppler.com", DOP, "dp.sa. + 40-44 [A-Za-z0-9]", F("dp.sa.", (AN, 43)))
K("onepassword-service-account-token", "1Password", "OP_SERVICE_ACCOUNT_TOKEN", "my.1password.com", "https://developer.1password.com/docs/service-accounts/", "ops_ + base64url JSON (signInAddress, srpX, muk, secretKey...)", g_1password_sa)
K("onepassword-secret-key", "1Password", "OP_SECRET_KEY", "my.1password.com", "https://support.1password.com/secret-key/", "A3- + 6-6-5-5-5-5 [A-Z0-9] groups", g_1password_secret_key, "X-OP-Secret-Key: {v}")
K("age-secret-key", "age", "SOPS_AGE_KEY", "age-encryption.org", "https://age-encryption.org/v1", "AGE-SECRET-KEY-1 + 58 upper-case bech32 (32-byte X25519 key + checksum)", g_age, "X-Age-Key: {v}")
K("infisical-service-token", "Infisical", "INFISICAL_TOKEN", "app.infisical.com", "https://infisical.com/docs/documentation/platform/token", "st. + 24 hex + . + 32 hex + . + 32 hex", g_infisical)
K("bitwarden-access-token", "Bitwarden Secrets Manager", "BWS_ACCESS_TOKEN", "vault.bitwarden.com", "https://bitwarden.com/help/access-tokens/", "0. + UUID + . + 30 [A-Za-z0-9] + : + 24 base64", g_bitwarden)
K("clerk-secret-key", "Clerk", "CLERK_SECRET_KEY", "api.clerk.com", "https://clerk.com/docs/deployments/clerk-environment-variables", "sk_live_ + 42 [A-Za-z0-9]", F("sk_live_", (AN, 42)))
K("stytch-secret", "Stytch", "STYTCH_SECRET", "api.stytch.com", "https://stytch.com/docs/api/authentication", "secret-live- + 36 [A-Za-z0-9_=-]", F("secret-live-", (URL, 36)), "Authorization: Basic {v}")


# Where a plain header would not be how the credential is really used, the curl context is a real
# command line instead (template after "!": {v} = the token).
POST_JSON = "!curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"deploy finished\"}' {v}"
CURL_OVERRIDES = {
    "aws-access-key-id": '!curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "{v}:$AWS_SECRET_ACCESS_KEY" https://acme-backups.s3.amazonaws.com/',
    "aws-temporary-access-key-id": '!curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "{v}:$AWS_SECRET_ACCESS_KEY" -H "x-amz-security-token: $AWS_SESSION_TOKEN" https://acme-backups.s3.amazonaws.com/',
    "aws-secret-access-key": '!curl --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:{v}" https://acme-backups.s3.amazonaws.com/',
    "azure-storage-account-key": '!az storage container list --account-name acmeprod --account-key "{v}" --output table',
    "azure-cosmosdb-key": '!export COSMOS_CONNECTION_STRING="AccountEndpoint=https://acme.documents.azure.com:443/;AccountKey={v};"',
    "azure-service-bus-sas-key": '!export SERVICEBUS_CONNECTION_STRING="Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={v}"',
    "azure-sas-signature": '!curl -sS -o db.tar.gz "https://acmeprod.blob.core.windows.net/backups/db.tar.gz?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-31T00:00:00Z&spr=https&sig={v}"',
    "azure-ad-client-secret": '!curl -X POST https://login.microsoftonline.com/$TENANT_ID/oauth2/v2.0/token -d client_id=$AZURE_CLIENT_ID -d "client_secret={v}" -d scope=https://graph.microsoft.com/.default -d grant_type=client_credentials',
    "azure-devops-pat": "!git clone https://pat:{v}@dev.azure.com/acme/platform/_git/infra",
    "azure-devops-pat-legacy": "!git clone https://pat:{v}@dev.azure.com/acme/platform/_git/infra",
    "alibaba-access-key-id": '!aliyun configure set --mode AK --access-key-id {v} --access-key-secret "$ALIBABA_CLOUD_ACCESS_KEY_SECRET" --region cn-hangzhou',
    "alibaba-access-key-secret": '!aliyun configure set --mode AK --access-key-id "$ALIBABA_CLOUD_ACCESS_KEY_ID" --access-key-secret {v} --region cn-hangzhou',
    "oracle-oci-auth-token": "!docker login iad.ocir.io -u 'acme/oracleidentitycloudservice/ops@acme.io' -p '{v}'",
    "oracle-oci-customer-secret-key": "!AWS_SECRET_ACCESS_KEY='{v}' aws s3 ls --endpoint-url https://acme.compat.objectstorage.us-ashburn-1.oraclecloud.com",
    "ibm-cloud-api-key": '!curl -X POST https://iam.cloud.ibm.com/identity/token -d "grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey={v}"',
    "scaleway-access-key": '!scw init access-key={v} secret-key="$SCW_SECRET_KEY"',
    "tencent-cloud-secret-id": '!tccli configure set secretId {v} secretKey "$TENCENTCLOUD_SECRET_KEY" region ap-guangzhou',
    "confluent-cloud-api-secret": '!confluent api-key store "$CONFLUENT_CLOUD_API_KEY" {v} --resource lkc-7y2k9p',
    "gcp-oauth-client-secret": "!curl -X POST https://oauth2.googleapis.com/token -d client_id=$GOOGLE_CLIENT_ID -d client_secret={v} -d grant_type=refresh_token -d refresh_token=$GOOGLE_REFRESH_TOKEN",
    "gcp-oauth-refresh-token": "!curl -X POST https://oauth2.googleapis.com/token -d client_id=$GOOGLE_CLIENT_ID -d client_secret=$GOOGLE_CLIENT_SECRET -d grant_type=refresh_token -d refresh_token={v}",
    "gitlab-pipeline-trigger-token": "!curl -X POST -F token={v} -F ref=main https://gitlab.com/api/v4/projects/4242/trigger/pipeline",
    "gitlab-runner-auth-token": "!gitlab-runner register --non-interactive --url https://gitlab.com --token {v} --executor docker",
    "gitlab-runner-registration-token": "!gitlab-runner register --non-interactive --url https://gitlab.com --registration-token {v} --executor docker",
    "gitlab-deploy-token": "!docker login registry.gitlab.com -u gitlab+deploy-token-42 -p {v}",
    "gitlab-feed-token": '!curl -sS "https://gitlab.com/dashboard/projects.atom?feed_token={v}"',
    "bitbucket-app-password": "!curl -u deploy-bot:{v} https://api.bitbucket.org/2.0/repositories/acme",
    "atlassian-api-token": "!curl -u ops@acme.io:{v} https://acme.atlassian.net/rest/api/3/myself",
    "jenkins-api-token": "!curl -X POST -u admin:{v} https://jenkins.internal.acme.io/job/deploy/build",
    "pypi-upload-token": "!twine upload -u __token__ -p {v} dist/*",
    "testpypi-upload-token": "!twine upload --repository testpypi -u __token__ -p {v} dist/*",
    "clojars-deploy-token": "!CLOJARS_USERNAME=acme CLOJARS_PASSWORD={v} lein deploy clojars",
    "gradle-plugin-portal-secret": "!./gradlew publishPlugins -Pgradle.publish.key=$GRADLE_PUBLISH_KEY -Pgradle.publish.secret={v}",
    "stripe-webhook-secret": "!STRIPE_WEBHOOK_SECRET={v} node server.js",
    "square-oauth-secret": "!curl -X POST https://connect.squareup.com/oauth2/token -H 'Content-Type: application/json' -d '{\"client_id\":\"sq0idp-Qm5vN2xKc3RhY2tz\",\"client_secret\":\"{v}\",\"grant_type\":\"authorization_code\"}'",
    "braintree-private-key": '!curl -u "$BRAINTREE_PUBLIC_KEY:{v}" https://payments.braintree-api.com/graphql',
    "paypal-client-secret": '!curl -u "$PAYPAL_CLIENT_ID:{v}" -d grant_type=client_credentials https://api-m.paypal.com/v1/oauth2/token',
    "razorpay-key-secret": '!curl -u "$RAZORPAY_KEY_ID:{v}" https://api.razorpay.com/v1/payments',
    "shopify-shared-secret": "!SHOPIFY_API_SECRET={v} npm run dev",
    "twilio-auth-token": '!curl -u "$TWILIO_ACCOUNT_SID:{v}" https://api.twilio.com/2010-04-01/Accounts.json',
    "twilio-api-key-sid": '!curl -u "{v}:$TWILIO_API_SECRET" https://api.twilio.com/2010-04-01/Accounts.json',
    "mailgun-api-key": "!curl -s --user 'api:{v}' https://api.mailgun.net/v3/mg.acme.io/messages -F to=ops@acme.io -F text=ok",
    "mailgun-api-key-legacy": "!curl -s --user 'api:{v}' https://api.mailgun.net/v3/mg.acme.io/messages -F to=ops@acme.io -F text=ok",
    "mandrill-api-key": "!curl -X POST https://mandrillapp.com/api/1.0/users/ping.json -d '{\"key\":\"{v}\"}'",
    "vonage-api-secret": '!curl -u "$VONAGE_API_KEY:{v}" https://api.nexmo.com/v2/applications',
    "zendesk-api-token": "!curl -u ops@acme.io/token:{v} https://acme.zendesk.com/api/v2/tickets.json",
    "stytch-secret": '!curl -u "$STYTCH_PROJECT_ID:{v}" https://api.stytch.com/v1/users',
    "wandb-api-key": "!wandb login {v}",
    "trello-token": '!curl "https://api.trello.com/1/members/me/boards?key=$TRELLO_KEY&token={v}"',
    "pusher-app-secret": "!PUSHER_APP_SECRET={v} node server.js",
    "auth0-client-secret": "!curl -X POST https://acme.us.auth0.com/oauth/token -d client_id=$AUTH0_CLIENT_ID -d client_secret={v} -d grant_type=client_credentials",
    "twitch-client-secret": '!curl -X POST "https://id.twitch.tv/oauth2/token?client_id=$TWITCH_CLIENT_ID&client_secret={v}&grant_type=client_credentials"',
    "pagerduty-routing-key": "!curl -X POST https://events.pagerduty.com/v2/enqueue -H 'Content-Type: application/json' -d '{\"routing_key\":\"{v}\",\"event_action\":\"trigger\"}'",
    "slack-incoming-webhook": POST_JSON,
    "slack-workflow-webhook": POST_JSON,
    "discord-webhook": "!curl -X POST -H 'Content-type: application/json' --data '{\"content\":\"deploy finished\"}' {v}",
    "teams-incoming-webhook": POST_JSON,
    "telegram-bot-token": '!curl -s "https://api.telegram.org/bot{v}/sendMessage?chat_id=-1001873&text=ok"',
    "age-secret-key": "!SOPS_AGE_KEY={v} sops -d secrets.enc.yaml",
    "onepassword-secret-key": "!op account add --address my.1password.com --email ops@acme.io --secret-key {v}",
    "newrelic-browser-key": "!curl -X POST \"https://bam.nr-data.net/1/{v}?a=1103&v=1.250.0\"",
    "planetscale-password": "!mysql -h aws.connect.psdb.cloud -u app_rw -p'{v}' shop",
    "hex-pm-api-key": "!HEX_API_KEY={v} mix hex.publish --yes",
    "crates-io-token": "!cargo publish --token {v}",
}
for _k in KINDS:
    if _k["kind"] in CURL_OVERRIDES:
        _k["curl"] = CURL_OVERRIDES[_k["kind"]]
assert set(CURL_OVERRIDES) <= {_k["kind"] for _k in KINDS}


# ------------------------------------------------------------------ contexts

CONTEXTS = ["env", "yaml", "json", "py", "js", "go", "java", "rb", "sh", "curl", "log", "ini", "xml"]


def camel(var):
    parts = var.lower().split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


def slug(provider):
    out = "".join(c if c.isalnum() else "-" for c in provider.lower().split(" (")[0]).strip("-")
    while "--" in out:
        out = out.replace("--", "-")
    return out


def render(ctx, k, v, rng):
    var, prov, host = k["var"], k["provider"], k["host"]
    low = var.lower()
    s = slug(prov)
    if ctx == "env":
        return "env", f"# {prov}\nAPP_ENV=production\n{var}={v}\n"
    if ctx == "yaml":
        return "yaml", f"service: {s}-sync\nreplicas: 2\ncredentials:\n  {low}: \"{v}\"\n  endpoint: https://{host}\n"
    if ctx == "json":
        return "json", json.dumps({"name": f"{s}-worker", "endpoint": f"https://{host}", low: v, "timeout_ms": 5000}, indent=2) + "\n"
    if ctx == "py":
        return "py", f'import requests\n\n{var} = "{v}"\nBASE_URL = "https://{host}"\n\nsession = requests.Session()\n'
    if ctx == "js":
        return "js", f"// {prov} client\nconst {camel(var)} = '{v}';\nmodule.exports = {{ {camel(var)}, baseUrl: 'https://{host}' }};\n"
    if ctx == "go":
        return "go", f'package config\n\nconst (\n\t{camel(var)[0].upper() + camel(var)[1:]} = "{v}"\n\tBaseURL = "https://{host}"\n)\n'
    if ctx == "java":
        return "java", f'package com.acme.integrations;\n\npublic final class {"".join(p.title() for p in s.split("-")).lstrip("0123456789")}Config {{\n    public static final String {var} = "{v}";\n    public static final String BASE_URL = "https://{host}";\n}}\n'
    if ctx == "rb":
        return "rb", f"# frozen_string_literal: true\n\nmodule Integrations\n  {var} = '{v}'\n  BASE_URL = 'https://{host}'\nend\n"
    if ctx == "sh":
        return "sh", f"#!/bin/sh\nset -eu\nexport {var}=\"{v}\"\nexec ./bin/{s}-sync --verbose\n"
    if ctx == "curl":
        if k["curl"].startswith("!"):
            return "sh", "#!/bin/sh\nset -eu\n" + k["curl"][1:].replace("{v}", v) + "\n"
        hdr = k["curl"].replace("{v}", v)
        return "sh", f"#!/bin/sh\ncurl -sS -X GET \\\n  -H \"{hdr}\" \\\n  -H \"Accept: application/json\" \\\n  \"https://{host}/v1/status\"\n"
    if ctx == "log":
        ts = f"2026-11-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"
        return "log", f"{ts} INFO  starting {s}-sync worker\n{ts} DEBUG [{s}-client] loaded config {var}={v} endpoint=https://{host}\n{ts} INFO  connected\n"
    if ctx == "ini":
        return "ini", f"[{s}]\nendpoint = https://{host}\n{low} = {v}\n"
    if ctx == "xml":
        return "xml", (
            "<?xml version='1.1' encoding='UTF-8'?>\n"
            "<org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl plugin=\"plain-credentials@183.va_de8f1dd5a_2b_\">\n"
            "  <scope>GLOBAL</scope>\n"
            f"  <id>{s}-{low.replace('_', '-')}</id>\n"
            f"  <description>{prov} {var}</description>\n"
            f"  <secret>{v}</secret>\n"
            "</org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl>\n"
        )
    raise ValueError(ctx)


# ------------------------------------------------------------------ config forms
# Each form: (kind, [generator...]) where a generator is rng -> (ext, content, secret).

FORMS = []


def form(kind, n=2):
    def deco(fn):
        FORMS.append((kind, fn, n))
        return fn

    return deco


def pw(rng, n=None):
    """A realistic random password: mixed case, digits, a few symbols that need no escaping and
    are not comment or interpolation characters in any of the config formats used (no `#`, `;`,
    `%`, `$`, quotes, backslash), so the expected value is unambiguous."""
    n = n or rng.randint(14, 24)
    return rand(rng, AN + "!^*-_.~@", n)


def upw(rng, n=None):
    """URL-safe password (no characters needing percent-encoding)."""
    return rand(rng, AN + "-_.~", n or rng.randint(14, 24))


USERS = ["deploy", "svc_app", "ci-bot", "reporting", "etl_user", "backend", "admin_ops", "grafana_ro"]
HOSTS = ["db.prod.acme.internal", "10.20.4.17", "pg-main.c7xk2.eu-west-1.rds.amazonaws.com", "mysql-01.corp.lan", "cache.acme.io"]


def rsa(rng):
    k = crypto.rsa_key(rng, 2048)
    return k


@form("pem-rsa-pkcs1")
def f_rsa1(rng, i):
    s = crypto.pem("RSA PRIVATE KEY", crypto.rsa_pkcs1(rsa(rng)))
    return "pem", s + "\n", s


@form("pem-pkcs8")
def f_pkcs8(rng, i):
    if i == 0:
        s = crypto.pem("PRIVATE KEY", crypto.rsa_pkcs8(rsa(rng)))
    else:
        s = crypto.pem("PRIVATE KEY", crypto.ec_pkcs8(*crypto.ec_p256_key(rng)))
    return "key", s + "\n", s


@form("pem-ec")
def f_ec(rng, i):
    s = crypto.pem("EC PRIVATE KEY", crypto.ec_sec1(*crypto.ec_p256_key(rng)))
    if i == 1:
        return "pem", "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + s + "\n", s
    return "pem", s + "\n", s


@form("pem-dsa")
def f_dsa(rng, i):
    s = crypto.pem("DSA PRIVATE KEY", crypto.dsa_der(crypto.dsa_key(rng)))
    return "pem", s + "\n", s


@form("pem-pkcs8-encrypted")
def f_pkcs8e(rng, i):
    s = crypto.pem("ENCRYPTED PRIVATE KEY", crypto.encrypted_pkcs8(rng, 1218 if i == 0 else 138))
    return "pem", s + "\n", s


@form("pem-rsa-legacy-encrypted")
def f_rsa_legacy(rng, i):
    iv = rand(rng, HU, 32)
    s = crypto.pem("RSA PRIVATE KEY", rng.randbytes(1200), f"Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,{iv}\n\n")
    return "pem", s + "\n", s


@form("openssh-ed25519")
def f_ossh_ed(rng, i):
    s = crypto.openssh_ed25519(rng, f"{rng.choice(USERS)}@build-{rng.randrange(10, 99)}")
    return "key", s + "\n", s


@form("openssh-rsa")
def f_ossh_rsa(rng, i):
    s = crypto.openssh_rsa(rng, rsa(rng), f"{rng.choice(USERS)}@laptop")
    return "key", s + "\n", s


@form("openssh-encrypted")
def f_ossh_enc(rng, i):
    s = crypto.openssh_ed25519(rng, f"{rng.choice(USERS)}@bastion", encrypted=True)
    return "key", s + "\n", s


@form("putty-ppk-v2")
def f_ppk2(rng, i):
    s = crypto.ppk_rsa(rsa(rng), f"rsa-key-2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}", 2)
    return "ppk", s + "\n", s


@form("putty-ppk-v3")
def f_ppk3(rng, i):
    s = crypto.ppk_ed25519(rng, f"ed25519-key-2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}", 3)
    return "ppk", s + "\n", s


@form("pgp-private-key")
def f_pgp(rng, i):
    s = crypto.pgp_private_block(rng)
    return "asc", s + "\n", s


@form("private-key-in-json", 2)
def f_key_json(rng, i):
    s = crypto.pem("PRIVATE KEY", crypto.rsa_pkcs8(rsa(rng)))
    d = {"type": "service_account", "project_id": f"acme-{rand(rng, LN, 6)}", "private_key_id": rand(rng, H, 40), "private_key": s + "\n", "client_email": f"deployer@acme-{rand(rng, LN, 6)}.iam.gserviceaccount.com"}
    # In JSON the key's newlines are \n escapes: the scanner should report the block as written.
    written = json.dumps(s)[1:-1]
    return "json", json.dumps(d, indent=2) + "\n", written


def jwt(rng, claims):
    key = rng.randbytes(32)
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64url(hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest())
    return f"{h}.{p}.{sig}"


@form("jwt-hs256", 3)
def f_jwt(rng, i):
    iat = rng.randrange(1_760_000_000, 1_790_000_000)
    t = jwt(rng, {"sub": str(rng.randrange(10**5, 10**7)), "name": rng.choice(["Ana Pereira", "Jonas Berg", "Mei Tanaka"]), "role": "admin", "iat": iat, "exp": iat + 3600})
    if i == 0:
        return "sh", f'curl -H "Authorization: Bearer {t}" https://api.acme.io/v2/orders\n', t
    if i == 1:
        return "env", f"SESSION_JWT={t}\n", t
    return "json", json.dumps({"access_token": t, "token_type": "Bearer", "expires_in": 3600}, indent=2) + "\n", t


@form("basic-auth-url")
def f_basic(rng, i):
    p = upw(rng)
    u = rng.choice(USERS)
    if i == 0:
        return "sh", f"git clone https://{u}:{p}@git.acme.io/platform/infra.git\n", p
    return "txt", f"PIP_INDEX_URL=https://{u}:{p}@pypi.acme.io/simple/\n", p


@form("postgres-url")
def f_pg(rng, i):
    p = upw(rng)
    line = f"postgresql://{rng.choice(USERS)}:{p}@{rng.choice(HOSTS)}:5432/orders?sslmode=require"
    if i == 0:
        return "env", f"DATABASE_URL={line}\n", p
    return "py", f'SQLALCHEMY_DATABASE_URI = "{line.replace("postgresql", "postgresql+psycopg2")}"\n', p


@form("mysql-url")
def f_mysql(rng, i):
    p = upw(rng)
    line = f"mysql://{rng.choice(USERS)}:{p}@{rng.choice(HOSTS)}:3306/shop"
    if i == 0:
        return "yaml", f"database:\n  url: {line}\n", p
    return "env", f"DB_CONNECTION_URL=\"{line}\"\n", p


@form("mongodb-url")
def f_mongo(rng, i):
    p = upw(rng)
    return "env", f"MONGO_URI=mongodb://{rng.choice(USERS)}:{p}@mongo-0.acme.internal:27017,mongo-1.acme.internal:27017/app?replicaSet=rs0&authSource=admin\n", p


@form("mongodb-srv-url")
def f_mongosrv(rng, i):
    p = upw(rng)
    line = f"mongodb+srv://{rng.choice(USERS)}:{p}@cluster0.{rand(rng, LN, 5)}.mongodb.net/?retryWrites=true&w=majority"
    if i == 0:
        return "js", f"const uri = \"{line}\";\nconst client = new MongoClient(uri);\n", p
    return "env", f"MONGODB_URI={line}\n", p


@form("redis-url")
def f_redis(rng, i):
    p = upw(rng)
    if i == 0:
        return "env", f"REDIS_URL=redis://default:{p}@cache.acme.io:6379/0\n", p
    return "yaml", f"cache:\n  url: rediss://:{p}@redis-prod.acme.internal:6380/2\n", p


@form("amqp-url")
def f_amqp(rng, i):
    p = upw(rng)
    return "env", f"CELERY_BROKER_URL=amqp://{rng.choice(USERS)}:{p}@rabbitmq.acme.internal:5672/prod\n", p


@form("sqlserver-connection-string")
def f_mssql(rng, i):
    p = pw(rng)
    return "config", f'<add name="Default" connectionString="Server=tcp:sql-prod.database.windows.net,1433;Initial Catalog=Billing;User ID={rng.choice(USERS)};Password={p};Encrypt=True;" providerName="System.Data.SqlClient" />\n', p


@form("odbc-connection-string")
def f_odbc(rng, i):
    p = pw(rng)
    return "py", f'conn = pyodbc.connect("DRIVER={{ODBC Driver 18 for SQL Server}};SERVER=10.1.2.3;DATABASE=ledger;UID={rng.choice(USERS)};PWD={p};TrustServerCertificate=yes")\n', p


@form("jdbc-url-password")
def f_jdbc(rng, i):
    p = upw(rng)
    return "properties", f"db.url=jdbc:postgresql://{rng.choice(HOSTS)}:5432/inventory?user={rng.choice(USERS)}&password={p}&ssl=true\n", p


@form("netrc")
def f_netrc(rng, i):
    p = upw(rng)
    if i == 0:
        return "netrc", f"machine api.heroku.com\n  login ops@acme.io\n  password {p}\n", p
    return "netrc", f"machine git.acme.io login {rng.choice(USERS)} password {p}\n", p


@form("npmrc-auth-token")
def f_npmrc(rng, i):
    t = crc_token("npm_")(rng) if i == 0 else rand(rng, URL, 40)
    return "npmrc", f"registry=https://registry.npmjs.org/\n//npm.acme.io/:_authToken={t}\nalways-auth=true\n", t


@form("pypirc-password")
def f_pypirc(rng, i):
    p = upw(rng)
    return "pypirc", f"[distutils]\nindex-servers =\n    acme\n\n[acme]\nrepository = https://pypi.acme.io/\nusername = {rng.choice(USERS)}\npassword = {p}\n", p


@form("docker-config-auth")
def f_docker(rng, i):
    a = b64(f"{rng.choice(USERS)}:{upw(rng)}".encode())
    return "json", json.dumps({"auths": {"registry.acme.io": {"auth": a}}}, indent=2) + "\n", a


@form("kubeconfig-token")
def f_kube_tok(rng, i):
    t = rand(rng, LN, 6) + "." + rand(rng, LN, 16) if i == 0 else jwt(rng, {"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ci:deployer"})
    return "yaml", f"apiVersion: v1\nkind: Config\nusers:\n- name: ci-deployer\n  user:\n    token: {t}\n", t


@form("kubeconfig-client-key-data")
def f_kube_key(rng, i):
    kd = b64((crypto.pem("EC PRIVATE KEY", crypto.ec_sec1(*crypto.ec_p256_key(rng))) + "\n").encode())
    return "yaml", f"apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-certificate-data: {b64(rng.randbytes(600))}\n    client-key-data: {kd}\n", kd


@form("django-secret-key")
def f_django(rng, i):
    k = "django-insecure-" + rand(rng, L + D + "!@#%^&*(-_=+)", 50) if i == 1 else rand(rng, L + D + "!@#%^&*(-_=+)", 50)
    return "py", f"DEBUG = False\nSECRET_KEY = '{k}'\nALLOWED_HOSTS = ['acme.io']\n", k


@form("rails-secret-key-base")
def f_rails(rng, i):
    k = rand(rng, H, 128)
    if i == 0:
        return "yml", f"production:\n  secret_key_base: {k}\n", k
    return "env", f"SECRET_KEY_BASE={k}\n", k


@form("laravel-app-key")
def f_laravel(rng, i):
    k = "base64:" + randbytes_clean(rng, 32, b64)
    return "env", f"APP_NAME=Shop\nAPP_ENV=production\nAPP_KEY={k}\nAPP_DEBUG=false\n", k


@form("flask-secret-key")
def f_flask(rng, i):
    k = rand(rng, H, 64) if i == 0 else rand(rng, URL, 43)
    return "py", f"app = Flask(__name__)\napp.config['SECRET_KEY'] = '{k}'\n", k


@form("password-yaml")
def f_pyaml(rng, i):
    p = pw(rng)
    return "yaml", f"smtp:\n  host: smtp.acme.io\n  username: mailer\n  password: \"{p}\"\n", p


@form("password-toml")
def f_ptoml(rng, i):
    p = pw(rng)
    return "toml", f"[database]\nhost = \"db.acme.internal\"\nuser = \"app\"\npassword = \"{p}\"\n", p


@form("password-ini")
def f_pini(rng, i):
    p = pw(rng)
    return "ini", f"[client]\nuser = backup\npassword = {p}\nhost = 127.0.0.1\n", p


@form("password-env")
def f_penv(rng, i):
    p = pw(rng)
    return "env", f"DB_HOST=db.acme.internal\nDB_USER=app\nDB_PASSWORD={p}\n", p


@form("password-java-properties")
def f_pprops(rng, i):
    p = pw(rng)
    return "properties", f"mail.smtp.host=smtp.acme.io\nmail.smtp.user=noreply\nmail.smtp.password={p}\n", p


@form("password-xml")
def f_pxml(rng, i):
    p = pw(rng)
    if i == 0:
        return "xml", f"<settings>\n  <servers>\n    <server>\n      <id>acme-releases</id>\n      <username>deployer</username>\n      <password>{p}</password>\n    </server>\n  </servers>\n</settings>\n", p
    return "xml", f'<dataSource name="main" user="app" password="{p}" url="jdbc:mysql://db:3306/app"/>\n', p


@form("password-json")
def f_pjson(rng, i):
    p = pw(rng)
    return "json", json.dumps({"db": {"host": "db.acme.internal", "user": "app", "password": p}}, indent=2) + "\n", p


@form("password-hcl-terraform")
def f_phcl(rng, i):
    p = pw(rng)
    if i == 0:
        return "tf", f'resource "aws_db_instance" "main" {{\n  engine   = "postgres"\n  username = "app"\n  password = "{p}"\n}}\n', p
    return "tfvars", f'db_admin_password = "{p}"\n', p


@form("password-php")
def f_pphp(rng, i):
    p = pw(rng)
    if i == 0:
        return "php", f"<?php\ndefine('DB_USER', 'wp');\ndefine('DB_PASSWORD', '{p}');\ndefine('DB_HOST', 'localhost');\n", p
    return "php", f"<?php\n$config = [\n    'db_password' => '{p}',\n];\n", p


@form("appsettings-connection-string")
def f_appsettings(rng, i):
    p = pw(rng)
    d = {"ConnectionStrings": {"DefaultConnection": f"Server=sql01;Database=Orders;User Id=orders_app;Password={p};TrustServerCertificate=True"}, "Logging": {"LogLevel": {"Default": "Warning"}}}
    return "json", json.dumps(d, indent=2) + "\n", p


@form("csharp-connection-string")
def f_cs(rng, i):
    p = pw(rng)
    return "cs", f'var cs = "Host=pg01;Username=reporting;Password={p};Database=warehouse";\nawait using var conn = new NpgsqlConnection(cs);\n', p


@form("ansible-vars")
def f_ansible(rng, i):
    p = pw(rng)
    return "yml", f"---\nmysql_root_password: \"{p}\"\nmysql_databases:\n  - name: app\n", p


@form("spring-application-properties")
def f_spring(rng, i):
    p = pw(rng)
    if i == 0:
        return "properties", f"spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.username=app\nspring.datasource.password={p}\n", p
    return "yml", f"spring:\n  datasource:\n    url: jdbc:mysql://db:3306/app\n    username: app\n    password: {p}\n", p


@form("password-code-assignment")
def f_pcode(rng, i):
    p = pw(rng)
    if i == 0:
        return "go", f'package db\n\nvar dbPassword = "{p}"\n', p
    return "java", f'class Db {{\n    private static final String DB_PASSWORD = "{p}";\n}}\n', p


@form("ldap-bind-password")
def f_ldap(rng, i):
    p = pw(rng)
    return "conf", f"uri ldaps://ldap.acme.io\nbinddn cn=svc-ldap,ou=services,dc=acme,dc=io\nbindpw {p}\n", p


@form("smtp-url")
def f_smtp(rng, i):
    p = upw(rng)
    return "env", f"EMAIL_URL=smtp+tls://noreply%40acme.io:{p}@smtp.acme.io:587\n", p


@form("git-credentials")
def f_gitcred(rng, i):
    p = crc_token("ghp_")(rng) if i == 0 else upw(rng)
    return "txt", f"https://{rng.choice(USERS)}:{p}@github.com\n", p


@form("htpasswd-style-docker-env")
def f_pgpass(rng, i):
    p = upw(rng)
    return "pgpass", f"db.acme.internal:5432:*:app:{p}\n", p


# ------------------------------------------------------------------ placeholders

PLACEHOLDERS = [
    ("truncated", ["sk-...", "ghp_...", "xoxb-...", "AIza..."]),
    ("xxxx", ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "xoxb-xxxxxxxxxxx-xxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx"]),
    ("angle-brackets", ["<your-token>", "<YOUR_API_KEY>", "<insert-secret-here>", "<token>"]),
    ("your-api-key", ["YOUR_API_KEY", "your-api-key-here", "YOUR_SECRET_KEY", "your_token_here"]),
    ("shell-var", ["${API_TOKEN}", "$GITHUB_TOKEN", "${SECRET_KEY:-}", "${{DB_PASSWORD}}"]),
    ("ci-expression", ["{{ secrets.NPM_TOKEN }}", "${{ secrets.SLACK_WEBHOOK }}", "{{ vault_db_password }}", "$(SONAR_TOKEN)"]),
    ("windows-env", ["%API_KEY%", "%DB_PASSWORD%", "%STRIPE_SECRET_KEY%"]),
    ("repeated-chars", ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "00000000000000000000000000000000", "1111111111111111111111111111111111111111", "ghp_000000000000000000000000000000000000"]),
    ("weak-defaults", ["changeme", "password123", "password", "admin", "secret", "letmein"]),
    ("masked", ["****", "********************", "••••••••", "sk_live_****************"]),
    ("stripe-test-zeros", ["sk_test_000000000000000000000000", "sk_test_00000000000000000000000000000000", "rk_test_000000000000000000000000"]),
    ("redacted", ["REDACTED", "[REDACTED]", "<redacted>", "***REDACTED***"]),
    ("empty", ["", "", ""]),
    ("example-word", ["sk_live_EXAMPLEKEY", "glpat-EXAMPLE00000000000", "xoxb-EXAMPLE-TOKEN"]),
    ("dummy-test", ["dummy", "test-token", "fake-api-key", "sample_secret", "TODO", "none", "null"]),
]

PLACEHOLDER_CODE = [
    ("aws-docs-example", "env", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nAWS_DEFAULT_REGION=us-west-2\n"),
    ("aws-docs-example", "ini", "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nregion = us-west-2\n"),
    ("aws-docs-example", "py", "s3 = boto3.client(\n    's3',\n    aws_access_key_id='AKIAIOSFODNN7EXAMPLE',\n    aws_secret_access_key='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',\n)\n"),
    ("aws-docs-example", "sh", "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nexport AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
    ("os-environ", "py", 'import os\n\nAPI_KEY = os.environ["STRIPE_SECRET_KEY"]\nDB_PASSWORD = os.getenv("DB_PASSWORD")\n'),
    ("os-environ", "py", "import os\n\nclient = OpenAI(api_key=os.environ['OPENAI_API_KEY'])\n"),
    ("os-environ", "py", 'password = os.environ.get("POSTGRES_PASSWORD", "")\n'),
    ("process-env", "js", "const token = process.env.GITHUB_TOKEN;\nconst slack = new WebClient(process.env.SLACK_BOT_TOKEN);\n"),
    ("process-env", "js", "module.exports = {\n  password: process.env.DB_PASSWORD,\n  apiKey: process.env['SENDGRID_API_KEY'],\n};\n"),
    ("process-env", "ts", "export const config = { secret: process.env.JWT_SECRET ?? '' };\n"),
    ("url-placeholder", "env", "DATABASE_URL=postgresql://user:<password>@localhost:5432/app\n"),
    ("url-placeholder", "env", "MONGO_URI=mongodb+srv://admin:<password>@cluster0.mongodb.net/test\n"),
    ("url-placeholder", "yaml", "db:\n  url: mysql://root:${MYSQL_ROOT_PASSWORD}@db:3306/app\n"),
    ("url-placeholder", "env", "REDIS_URL=redis://:password@localhost:6379/0\n"),
    ("url-placeholder", "md", "Connect with `postgres://USERNAME:PASSWORD@HOST:5432/DB`.\n"),
    ("go-getenv", "go", 'package main\n\nimport "os"\n\nvar token = os.Getenv("GITHUB_TOKEN")\n'),
    ("java-getenv", "java", 'String password = System.getenv("DB_PASSWORD");\n'),
    ("ruby-env", "rb", "Stripe.api_key = ENV.fetch('STRIPE_SECRET_KEY')\n"),
    ("pem-placeholder", "md", "```\n-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n```\n"),
    ("pem-placeholder", "txt", "-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----\n"),
    ("k8s-secret-ref", "yaml", "env:\n- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db\n      key: password\n"),
    ("docs-table", "md", "| Variable | Description |\n| --- | --- |\n| `API_KEY` | your API key, e.g. `sk_live_...` |\n| `PASSWORD` | the database password |\n"),
]

PVARS = ["API_KEY", "GITHUB_TOKEN", "STRIPE_SECRET_KEY", "DB_PASSWORD", "SLACK_BOT_TOKEN", "AWS_SECRET_ACCESS_KEY", "MAILGUN_API_KEY", "DATADOG_API_KEY"]
PHOSTS = ["api.stripe.com", "api.github.com", "api.mailgun.net", "api.datadoghq.com"]


# ------------------------------------------------------------------ writing


def esc(secret):
    """One-line form for expected.tsv: backslash -> \\\\, newline -> \\n."""
    assert "\t" not in secret, secret
    return secret.replace("\\", "\\\\").replace("\n", "\\n")


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(content)


def gen_docs(out, rng):
    root = os.path.join(out, "docs-formats")
    lines, c = [], 0
    seen = set()
    for k in KINDS:
        assert k["kind"] not in seen, k["kind"]
        seen.add(k["kind"])
        for n in range(2):
            v = k["gen"](rng)
            assert "\n" not in v and "\t" not in v and "\\" not in v
            ext, content = render(CONTEXTS[c % len(CONTEXTS)], k, v, rng)
            c += 1
            assert v in content
            rel = f"{k['kind']}/{n + 1}.{ext}"
            write(os.path.join(root, rel), content)
            lines.append(f"{rel}\t{esc(v)}")
    write(os.path.join(root, "expected.tsv"), "\n".join(lines) + "\n")
    return len(KINDS), len(lines)


def gen_forms(out, rng):
    root = os.path.join(out, "config-forms")
    lines = []
    for kind, fn, n in FORMS:
        for i in range(n):
            ext, content, secret = fn(rng, i)
            assert secret in content, (kind, secret)
            rel = f"{kind}/{i + 1}.{ext}"
            write(os.path.join(root, rel), content)
            lines.append(f"{rel}\t{esc(secret)}")
    write(os.path.join(root, "expected.tsv"), "\n".join(lines) + "\n")
    return len(FORMS), len(lines)


def gen_placeholders(out, rng):
    root = os.path.join(out, "placeholders")
    n, kinds = 0, set()
    c = 0
    for kind, values in PLACEHOLDERS:
        kinds.add(kind)
        for j, v in enumerate(values):
            var = PVARS[(c + j) % len(PVARS)]
            k = dict(var=var, provider="Acme", host=PHOSTS[c % len(PHOSTS)], curl="Authorization: Bearer {v}")
            ext, content = render(CONTEXTS[c % len(CONTEXTS)], k, v, rng)
            c += 1
            write(os.path.join(root, kind, f"{j + 1}.{ext}"), content)
            n += 1
    counts = {}
    for kind, ext, content in PLACEHOLDER_CODE:
        kinds.add(kind)
        counts[kind] = counts.get(kind, 0) + 1
        write(os.path.join(root, kind, f"{counts[kind]}.{ext}"), content)
        n += 1
    write(os.path.join(root, "expected.tsv"), "")
    return len(kinds), n


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = here
    if "--out" in sys.argv:
        out = sys.argv[sys.argv.index("--out") + 1]
    for name in ("docs-formats", "config-forms", "placeholders"):
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    print("docs-formats: %d kinds, %d files" % gen_docs(out, random.Random(SEED)))
    print("config-forms: %d kinds, %d files" % gen_forms(out, random.Random(SEED + 1)))
    print("placeholders: %d kinds, %d files" % gen_placeholders(out, random.Random(SEED + 2)))


if __name__ == "__main__":
    main()
