# frozen_string_literal: true

module Integrations
  OPENAI_SVCACCT_KEY = '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'
  BASE_URL = 'https://api.openai.com'
end
