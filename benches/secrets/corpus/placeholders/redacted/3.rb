# frozen_string_literal: true

module Integrations
  API_KEY = '<redacted>'
  BASE_URL = 'https://api.mailgun.net'
end
