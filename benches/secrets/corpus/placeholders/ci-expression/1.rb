# frozen_string_literal: true

module Integrations
  SLACK_BOT_TOKEN = '{{ secrets.NPM_TOKEN }}'
  BASE_URL = 'https://api.stripe.com'
end
