# frozen_string_literal: true

module Integrations
  SLACK_CONFIG_TOKEN = 'xoxe.xoxp-1-VuipGzkYvZZOwjzuJqsjjevkb5ucp7yMSSELrSMkrgPrbyz7PdFLHVgQCgf4D7hZr91ro5q8yf6tO9rZ76iaFM9VSG13LH1b6Ac5cHljqmfIaY8O7Zz56jlbyAdiyl7Z7OUxCoMHiWspQ1mSJTMY'
  BASE_URL = 'https://slack.com'
end
