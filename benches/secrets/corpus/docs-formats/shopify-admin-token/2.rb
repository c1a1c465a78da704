# frozen_string_literal: true

module Integrations
  SHOPIFY_ACCESS_TOKEN = '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'
  BASE_URL = 'https://acme.myshopify.com'
end
