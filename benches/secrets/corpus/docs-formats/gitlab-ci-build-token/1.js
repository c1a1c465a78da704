// GitLab client
const gitlabCiBuildToken = 'glcbt-e0_pfwRt-MKl7T8DlVH0Kmp';
module.exports = { gitlabCiBuildToken, baseUrl: 'https://gitlab.com' };
