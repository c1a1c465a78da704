# frozen_string_literal: true

module Integrations
  PAGERDUTY_ROUTING_KEY = '3fb0f1d1e09af2fb77866510b122e235'
  BASE_URL = 'https://events.pagerduty.com'
end
