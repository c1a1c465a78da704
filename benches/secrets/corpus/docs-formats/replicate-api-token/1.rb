# frozen_string_literal: true

module Integrations
  REPLICATE_API_TOKEN = 'r8_utQflsYKV0IodoOiPNMnHVsfWFqHHuygJCVhL'
  BASE_URL = 'https://api.replicate.com'
end
