const token = process.env.GITHUB_TOKEN;
const slack = new WebClient(process.env.SLACK_BOT_TOKEN);
