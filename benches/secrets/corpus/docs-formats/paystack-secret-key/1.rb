# frozen_string_literal: true

module Integrations
  PAYSTACK_SECRET_KEY = 'sk_live_93a4c83ec0aa3cf80745f487b661a2d32a41688b'
  BASE_URL = 'https://api.paystack.co'
end
