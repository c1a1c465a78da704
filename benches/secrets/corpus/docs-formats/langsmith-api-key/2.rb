# frozen_string_literal: true

module Integrations
  LANGSMITH_API_KEY = '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'
  BASE_URL = 'https://api.smith.langchain.com'
end
