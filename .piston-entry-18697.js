export * from "./plugins/blog-js/app.js";
