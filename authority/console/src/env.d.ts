/** Vite imports the console's stylesheet as a side effect. */
declare module "*.css";
