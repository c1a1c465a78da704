# frozen_string_literal: true

module Integrations
  STRIPE_SECRET_KEY = 'xoxb-xxxxxxxxxxx-xxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx'
  BASE_URL = 'https://api.datadoghq.com'
end
