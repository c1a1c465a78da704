# frozen_string_literal: true

module Integrations
  LINEAR_API_KEY = 'lin_api_2duzH8qfZJoW8LwokIDd7TydubgR41YrL1hAQEB1'
  BASE_URL = 'https://api.linear.app'
end
