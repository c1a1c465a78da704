package com.acme.integrations;

public final class MicrosoftTeamsConfig {
    public static final String TEAMS_WEBHOOK_URL = "https://xdbkbrkg.webhook.office.com/webhookb2/38884db5-f9db-4646-98eb-0b6c8cbcab61@968be187-f911-4706-afed-c517e696127b/IncomingWebhook/6f56f129ef6b1fbb9328128744bff207/692155d3-c086-488c-af02-21d38cb8015d/V2KiNwNOjBxKhtRmTRAnnBBhk8DV3FasWH8v2RxJds";
    public static final String BASE_URL = "https://outlook.office.com";
}
