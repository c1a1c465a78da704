# frozen_string_literal: true

module Integrations
  TEAMS_WEBHOOK_URL = 'https://dxrixych.webhook.office.com/webhookb2/fe25e424-0d4b-415b-8ef9-e2171c99822a@e1166fde-70d2-42c1-85fb-43aac7ff94e2/IncomingWebhook/398b9f8d9c2a96571afc1e7e3cb3ab0b/e5c599da-7c60-4960-bd1b-471600cb2455/V26FtcC56RuwFxaAHChlXAeVoGGV90hW8a-Uz06K1g'
  BASE_URL = 'https://outlook.office.com'
end
